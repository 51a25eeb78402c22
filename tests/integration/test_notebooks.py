"""The example notebooks run top to bottom in a real kernel against real services."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.services import REPO, Worker

WIDGET = "application/vnd.jupyter.widget-view+json"


def run(name: str, workspace: Path, redis_url: str, cwd: Path) -> Any:
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    env = {
        **os.environ,
        "GMS_WORKSPACE": str(workspace),
        "GMS_BROKER_URL": redis_url,
        "PYTHONPATH": str(REPO),
    }
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    client.execute(env=env)
    return notebook


def outputs(notebook: Any, needle: str) -> list[dict[str, Any]]:
    cell = next(c for c in notebook.cells if c.cell_type == "code" and needle in c.source)
    return list(cell.outputs)


@pytest.mark.parametrize("name", ["quickstart.ipynb", "scripted_shots.ipynb"])
def test_notebook_runs_top_to_bottom(
    name: str, worker: Worker, redis_url: str, task_workspace: Path, tmp_path: Path
) -> None:
    notebook = run(name, task_workspace, redis_url, tmp_path)
    errors = [
        o
        for c in notebook.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "error"
    ]
    assert errors == []
    if name == "quickstart.ipynb":
        # the generate cell showed a live progress widget, then the take with its image
        shown = outputs(notebook, 'shot.generate("still", prompt="fog over the harbour at dawn"')
        assert any(WIDGET in o.get("data", {}) for o in shown)
        assert any("data:image/png;base64" in o.get("data", {}).get("text/html", "") for o in shown)
        gallery = outputs(notebook, "shot.gallery()")
        assert any(WIDGET in o.get("data", {}) for o in gallery)
        project = task_workspace / "Projects" / "harbour"
        assert (project / "01_Assets" / "Characters" / "hero.png").is_file()
    else:
        batch = outputs(notebook, "studio.wait(batch)")
        assert sum(WIDGET in o.get("data", {}) for o in batch) >= 1
        assert "['completed', 'completed', 'completed', 'completed']" in str(batch)
        video = outputs(notebook, "export_animatic")
        assert any("06_Exports/animatic-harbour-at-dawn.mp4" in o.get("text", "") for o in video)
        assert any("<video" in o.get("data", {}).get("text/html", "") for o in video)
