"""A broken pipeline.toml is reported with its path and the field at fault; the server runs on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api
from tests.services import REPO

GOOD_TIER = 'pipelineId = "x:1"\nimage = "x:1"\ntargetVram = 0\n'


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = tmp_path / "more-pipelines"
    (root / "notoml").mkdir(parents=True)
    (root / "notoml" / "pipeline.toml").write_text("id = 'notoml\n")  # a syntax error
    (root / "badtier").mkdir()
    (root / "badtier" / "pipeline.toml").write_text(
        'id = "badtier"\nname = "B"\nversion = "1"\nmedia = "image"\nentry = ["x"]\n'
        f"[tiers.low]\n{GOOD_TIER}[tiers.standard]\n{GOOD_TIER}"
        '[tiers.high]\npipelineId = "x:1"\nimage = "x:1"\ntargetVram = "lots"\n'
    )
    (root / "nohigh").mkdir()
    (root / "nohigh" / "pipeline.toml").write_text(
        'id = "nohigh"\nname = "N"\nversion = "1"\nmedia = "image"\nentry = ["x"]\n'
        f"[tiers.low]\n{GOOD_TIER}[tiers.standard]\n{GOOD_TIER}"
    )
    return root


@pytest.fixture
def studio_settings(broken: Path) -> dict[str, Any]:
    return {"pipelines_path": [str(REPO / "pipelines"), str(broken)]}


async def test_bad_pipeline_files_are_reported_not_fatal(api: Api, broken: Path) -> None:
    status, body = await api.call("GET", "pipelines")
    assert status == 200
    assert {p["id"] for p in body["pipelines"]} == {
        "still",
        "animatic",
        "thumbnail",
        "diffusion",
        "comfyui",
        "timeline",
        "boards",
    }
    errors = {(Path(e["path"]).parent.name, e["field"]): e["message"] for e in body["errors"]}
    # where among the pipelines, not where the server keeps them
    assert {e["path"] for e in body["errors"]} >= {"notoml/pipeline.toml", "badtier/pipeline.toml"}
    assert str(broken) not in json.dumps(body)
    assert ("notoml", "(syntax)") in errors
    assert ("badtier", "tiers.high.targetVram") in errors
    assert "integer" in errors[("badtier", "tiers.high.targetVram")]
    assert ("nohigh", "tiers") in errors and "high" in errors[("nohigh", "tiers")]
    status, _ = await api.call("GET", "projects")
    assert status == 200
