"""Files changed by anyone (a terminal, a notebook, git) reach the project's clients live."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.conftest import Api
from tests.integration.test_generation import make_shot, open_socket

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    return task_workspace


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    return {"watch": True}


async def test_every_client_hears_of_projects_made_or_removed_elsewhere(
    api: Api, jp_ws_fetch: Any, workspace: Path
) -> None:
    pid, _, _ = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    other, _, _ = await make_shot(api)  # made by "someone else": a notebook, another browser
    made = await socket.until("project_update", timeout=10, projectId=other)
    assert made["changes"] == {"created": True}
    status, _ = await api.call("DELETE", f"projects/{other}")
    assert status == 200
    gone = await socket.until("project_update", timeout=10, projectId=other)
    assert gone["changes"] == {"deleted": True}


async def test_files_from_a_terminal_appear_live(
    api: Api, jp_ws_fetch: Any, workspace: Path, tmp_path: Path
) -> None:
    pid, _, _ = await make_shot(api)
    folder = workspace / "Projects" / pid
    socket = await open_socket(jp_ws_fetch, pid)
    source = tmp_path / "pier.png"
    Image.new("RGB", (640, 480), "darkgreen").save(source)

    started = time.monotonic()
    subprocess.run(["cp", str(source), str(folder / "01_Assets/Locations/pier.png")], check=True)
    added = await socket.until("asset_added", timeout=10)
    latency = time.monotonic() - started
    assert added["category"] == "locations"
    assert added["asset"]["path"] == "01_Assets/Locations/pier.png"
    assert latency < 1.5, f"asset_added after {latency:.2f} s"
    # the thumbnail follows once the thumbnail pipeline made it
    with_thumb = await socket.until("asset_added", timeout=30)
    assert with_thumb["asset"]["thumbnail"]

    (folder / "01_Assets/Locations/pier.png").unlink()
    removed = await socket.until("asset_removed", timeout=10)
    assert removed == {
        "type": "asset_removed",
        "category": "locations",
        "path": "01_Assets/Locations/pier.png",
    }

    # an edit of project.json from outside the studio (git checkout, an editor)
    manifest = json.loads((folder / "project.json").read_text())
    manifest["name"] = "Renamed outside"
    manifest["version"] += 1
    (folder / "project.json").write_text(json.dumps(manifest))
    update = await socket.until("project_update", timeout=10, version=manifest["version"])
    assert update["changes"]["external"] is True

    # an ordinary file elsewhere in the project
    shutil.copy(source, folder / "02_Source_Creative" / "board.png")
    update = await socket.until("project_update", timeout=10)
    assert update["changes"]["files"] == ["02_Source_Creative/board.png"]
