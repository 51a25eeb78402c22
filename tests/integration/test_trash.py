"""A user deletes takes, shots and whole projects, finds them in the trash, and brings them back.

Real Redis, a real Celery worker (the takes are generated, with their sidecars and thumbnails),
a real Jupyter server.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    """These tests share the worker's workspace; each makes its own project."""
    return task_workspace


async def poll(check: Any, timeout: float = 60.0) -> Any:
    """Await `check()` (a coroutine function) until it answers something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"not met within {timeout} s: {check}")
        await asyncio.sleep(0.1)


async def new_film(api: Api, name: str) -> tuple[str, str, list[str]]:
    """A project with chapter "Act 1", scene "Dawn", shots "Pier", "Boat": (id, scene, shots)."""
    status, project = await api.call("POST", "projects", {"name": name})
    assert status == 201, project
    pid = project["id"]
    _, ch = await api.call("POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "Act 1"})
    _, sc = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "scene", "parentId": ch["id"], "name": "Dawn"}
    )
    shots = []
    for shot_name in ("Pier", "Boat"):
        _, shot = await api.call(
            "POST",
            f"projects/{pid}/nodes",
            {"kind": "shot", "parentId": sc["id"], "name": shot_name},
        )
        shots.append(shot["id"])
    return pid, sc["id"], shots


async def generate(api: Api, pid: str, shot: str, pipeline: str = "still") -> dict[str, Any]:
    """Generate a take and wait until it is completed with its thumbnail: the take."""
    status, accepted = await api.call(
        "POST", "tasks/submit", {"projectId": pid, "nodeId": shot, "pipeline": pipeline}
    )
    assert status == 202, accepted

    async def done() -> dict[str, Any] | None:
        _, project = await api.call("GET", f"projects/{pid}")
        for take in shot_of(project, shot)["takes"]:
            if take["taskId"] == accepted["taskId"] and take["status"] == "completed":
                return take if take.get("thumbnail") else None
        return None

    take: dict[str, Any] = await poll(done)
    return take


def shot_of(project: dict[str, Any], shot_id: str) -> dict[str, Any]:
    for chapter in project["chapters"]:
        for scene in chapter["scenes"]:
            for shot in scene["shots"]:
                if shot["id"] == shot_id:
                    return dict(shot)
    raise KeyError(shot_id)


def files_of(folder: Path, take_id: str) -> list[str]:
    return sorted(p.name for p in folder.rglob(f"{take_id}*") if p.is_file())


async def trash_items(api: Api, pid: str | None = None) -> list[dict[str, Any]]:
    status, body = await api.call("GET", "trash", params={"projectId": pid} if pid else None)
    assert status == 200, body
    items: list[dict[str, Any]] = body["items"]
    return items


async def test_deleted_takes_and_shots_wait_in_the_trash_and_come_back(
    api: Api, workspace: Path
) -> None:
    pid, _, (pier, boat) = await new_film(api, f"Harbour {secrets.token_hex(3)}")
    root = workspace / "Projects" / pid
    first = await generate(api, pid, pier)
    second = await generate(api, pid, pier)
    assert (root / first["file"]).is_file() and (root / first["thumbnail"]).is_file()
    first_files = files_of(root / "03_Renders", first["id"])
    assert first_files == [f"{first['id']}.json", f"{first['id']}.png"]

    # delete the first take: its file, sidecar and thumbnail leave the project
    status, body = await api.call("DELETE", f"projects/{pid}/nodes/{first['id']}")
    assert status == 200, body
    take_item = body["trashId"]
    _, project = await api.call("GET", f"projects/{pid}")
    assert [t["id"] for t in shot_of(project, pier)["takes"]] == [second["id"]]
    assert files_of(root / "03_Renders", first["id"]) == []
    assert not (root / first["thumbnail"]).exists()
    [item] = await trash_items(api, pid)
    assert item["id"] == take_item and item["kind"] == "take" and item["nodeKind"] == "take"
    assert item["name"] == "Take 1" and item["where"] == ["Act 1", "Dawn", "Pier"]
    assert item["projectId"] == pid and item["deleted"] and item["expires"]
    assert sorted(item["paths"]) == sorted(
        [first["file"], first["file"].replace(".png", ".json"), first["thumbnail"]]
    )
    assert item["size"] > 0 and item["takeCount"] == 1
    assert "node" not in item  # what restoring needs stays on the server

    # delete the shot with its other take; If-Match is honoured
    status, body = await api.call(
        "DELETE", f"projects/{pid}/nodes/{pier}", headers={"If-Match": "1"}
    )
    assert status == 409 and body["error"]["code"] == "version_conflict"
    status, body = await api.call(
        "DELETE", f"projects/{pid}/nodes/{pier}", headers={"If-Match": str(project["version"])}
    )
    assert status == 200, body
    shot_item = body["trashId"]
    assert files_of(root / "03_Renders", second["id"]) == []
    _, project = await api.call("GET", f"projects/{pid}")
    assert [s["id"] for s in project["chapters"][0]["scenes"][0]["shots"]] == [boat]

    # the take cannot go back while its shot is gone: a clear 409
    status, body = await api.call("POST", f"trash/{take_item}/restore")
    assert status == 409 and body["error"]["code"] == "restore_conflict"
    assert "Act 1 / Dawn / Pier" in body["error"]["message"]

    # the shot comes back first in its scene, with its take and files
    status, body = await api.call("POST", f"trash/{shot_item}/restore")
    assert status == 200, body
    assert body["item"]["id"] == shot_item and body["projectId"] == pid
    _, project = await api.call("GET", f"projects/{pid}")
    assert body["version"] == project["version"]
    shots = project["chapters"][0]["scenes"][0]["shots"]
    assert [s["id"] for s in shots] == [pier, boat]
    assert [t["id"] for t in shots[0]["takes"]] == [second["id"]]
    second_files = [f"{second['id']}.json", f"{second['id']}.png"]
    assert files_of(root / "03_Renders", second["id"]) == second_files
    assert (root / second["thumbnail"]).is_file()

    # now the take comes back, first in its shot as it was, its files with it
    status, body = await api.call("POST", f"trash/{take_item}/restore")
    assert status == 200, body
    _, project = await api.call("GET", f"projects/{pid}")
    pier_shot = shot_of(project, pier)
    assert [t["id"] for t in pier_shot["takes"]] == [first["id"], second["id"]]
    assert pier_shot["takes"][0] == first
    assert files_of(root / "03_Renders", first["id"]) == first_files
    assert (root / first["thumbnail"]).is_file()
    assert await trash_items(api, pid) == []

    # restoring twice, or something that never was: 404
    status, body = await api.call("POST", f"trash/{take_item}/restore")
    assert status == 404 and body["error"]["code"] == "trash_item_not_found"
    status, body = await api.call("POST", "trash/..%2F..%2Fetc/restore")
    assert status == 404


async def test_a_deleted_project_goes_to_the_trash_with_its_tasks(
    api: Api, workspace: Path
) -> None:
    name = f"Lighthouse {secrets.token_hex(3)}"
    pid, _, (pier, _) = await new_film(api, name)
    await generate(api, pid, pier)
    status, tasks = await api.call("GET", "tasks", params={"projectId": pid})
    assert status == 200 and len(tasks["tasks"]) >= 1
    # a take still generating when the project goes
    status, slow = await api.call(
        "POST",
        "tasks/submit",
        {"projectId": pid, "nodeId": pier, "pipeline": "slow", "parameters": {"seconds": 30}},
    )
    assert status == 202

    async def running() -> bool:
        _, record = await api.call("GET", f"tasks/{slow['taskId']}/status")
        return bool(record["status"] == "running")

    await poll(running)
    _, project = await api.call("GET", f"projects/{pid}")

    status, body = await api.call("DELETE", f"projects/{pid}", headers={"If-Match": "1"})
    assert status == 409 and body["error"]["code"] == "version_conflict"
    assert (workspace / "Projects" / pid / "project.json").is_file()
    status, body = await api.call(
        "DELETE", f"projects/{pid}", headers={"If-Match": str(project["version"])}
    )
    assert status == 200 and body["deleted"] == pid
    project_item = body["trashId"]
    assert not (workspace / "Projects" / pid).exists()
    _, listing = await api.call("GET", "projects")
    assert pid not in [p["id"] for p in listing["projects"]]
    [item] = await trash_items(api, pid)
    assert item["kind"] == "project" and item["name"] == name and item["takeCount"] == 2

    # its running task was cancelled
    async def ended() -> dict[str, Any] | None:
        _, record = await api.call("GET", f"tasks/{slow['taskId']}/status")
        return record if record["status"] in ("cancelled", "error", "completed") else None

    record = await poll(ended)
    assert record["status"] == "cancelled", record

    # a new project of the same name starts with no tasks
    status, again = await api.call("POST", "projects", {"name": name})
    assert status == 201 and again["id"] == pid
    status, tasks = await api.call("GET", "tasks", params={"projectId": pid})
    assert status == 200 and tasks["tasks"] == []

    # the old one cannot come back over it
    status, body = await api.call("POST", f"trash/{project_item}/restore")
    assert status == 409 and body["error"]["code"] == "restore_conflict"
    assert pid in body["error"]["message"]

    # once the new one is gone (erased for good), the old one comes back with its tasks and history
    status, body = await api.call("DELETE", f"projects/{pid}")
    assert status == 200
    status, body = await api.call("DELETE", f"trash/{body['trashId']}")
    assert status == 200
    status, body = await api.call("POST", f"trash/{project_item}/restore")
    assert status == 200, body
    _, project = await api.call("GET", f"projects/{pid}")
    assert len(shot_of(project, pier)["takes"]) == 2
    status, tasks = await api.call("GET", "tasks", params={"projectId": pid})
    assert slow["taskId"] in [t["taskId"] for t in tasks["tasks"]]
    status, log = await api.call("GET", f"projects/{pid}/git/log")
    assert status == 200 and log["commits"]

    # delete forever and empty
    status, body = await api.call("DELETE", f"projects/{pid}")
    assert status == 200
    status, body = await api.call("DELETE", "trash", params={"projectId": pid})
    assert status == 200 and len(body["deleted"]) == 1
    assert await trash_items(api, pid) == []
    status, body = await api.call("DELETE", f"trash/{project_item}")
    assert status == 404
