"""The model library: what `Library/AI_Models/` holds, told without reading any weights."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from gms_lab.core.errors import InvalidInput
from gms_lab.core.library import find_model, list_models, model_named
from gms_lab.tasks.registry import PipelineRegistry
from tests.services import REPO


def checkpoint(path: Path, keys: list[str], weights: int = 4096) -> Path:
    """A .safetensors file: a JSON header naming tensors, then (unread) bytes."""
    header = {k: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]} for k in keys}
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * weights)
    return path


def test_both_formats_are_listed_with_family_and_size(tmp_path: Path) -> None:
    models = tmp_path / "AI_Models"
    (models / "harbour-sd").mkdir(parents=True)
    (models / "harbour-sd" / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionXLPipeline"})
    )
    (models / "harbour-sd" / "unet").mkdir()
    (models / "harbour-sd" / "unet" / "weights.safetensors").write_bytes(b"\0" * 100)
    checkpoint(models / "dream-v1.safetensors", ["cond_stage_model.transformer.x"])
    (models / "in-a-folder").mkdir()
    checkpoint(models / "in-a-folder" / "model.safetensors", ["conditioner.embedders.1.x"])
    (models / "with-configs").mkdir()  # a checkpoint with its family's configs beside it
    (models / "with-configs" / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline"})
    )
    checkpoint(models / "with-configs" / "with-configs.safetensors", ["model.diffusion_model.x"])
    (models / "notes.txt").write_text("not a model")
    (models / ".partial.safetensors").write_bytes(b"")

    listed = {m.name: m for m in list_models(models)}

    assert sorted(listed) == ["dream-v1", "harbour-sd", "in-a-folder", "with-configs"]
    configured = listed["with-configs"]
    assert (configured.format, configured.family) == ("single-file", "stable-diffusion-1")
    assert configured.pipeline_class == "StableDiffusionPipeline"
    assert configured.path == "with-configs/with-configs.safetensors"
    assert listed["harbour-sd"].format == "diffusers"
    assert listed["harbour-sd"].family == "stable-diffusion-xl"
    index = models / "harbour-sd" / "model_index.json"
    assert listed["harbour-sd"].size == index.stat().st_size + 100
    assert listed["dream-v1"].format == "single-file"
    assert listed["dream-v1"].family == "stable-diffusion-1"
    assert listed["in-a-folder"].family == "stable-diffusion-xl"
    assert listed["in-a-folder"].path == "in-a-folder/model.safetensors"
    assert find_model(models, "dream-v1").format == "single-file"
    # a name finds what the listing calls by it, reading no other model
    for name, model in listed.items():
        assert find_model(models, name) == model
        assert model_named(models, name) == name  # what a submit checks: the same names
    for name in ("nope", "notes.txt", "dream-v1.safetensors", "../AI_Models/dream-v1", ".partial"):
        for look_up in (find_model, model_named):
            with pytest.raises(InvalidInput) as unknown:
                look_up(models, name)
            assert str(models) in unknown.value.message and "dream-v1" in unknown.value.message
    assert list_models(tmp_path / "missing") == []


def test_without_diffusers_the_pipeline_is_unavailable_with_the_hint(tmp_path: Path) -> None:
    # a Python where diffusers cannot be imported: the registry says so without importing torch
    script = (
        "import sys; sys.modules['diffusers'] = None\n"
        "from pathlib import Path\n"
        "from gms_lab.tasks.registry import PipelineRegistry\n"
        f"r = PipelineRegistry([Path({str(REPO / 'pipelines')!r})])\n"
        "print(r.availability('diffusion').model_dump_json())\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.splitlines()
    state = json.loads(out[0])
    assert state["available"] is False and state["missing"] == ["diffusers"]
    assert "pip install 'gms_lab[diffusion]'" in state["hint"]
    assert out[1] == "False"  # the server never imports torch to tell

    # the pipeline program itself answers a job with the same hint instead of crashing
    runner = (
        "import sys, runpy; sys.modules['diffusers'] = None\n"
        "sys.argv = ['diffusion/main.py']\n"
        "runpy.run_path('diffusion/main.py', run_name='__main__')\n"
    )
    job = {"jobId": "j", "parameters": {"model": "x"}, "outputDir": str(tmp_path)}
    answer = subprocess.run(
        [sys.executable, "-c", runner],
        input=json.dumps(job) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO / "pipelines",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
    ).stdout.splitlines()
    event = json.loads(answer[-1])
    assert event["event"] == "error" and "diffusers" in event["message"]
    assert "gms_lab[diffusion]" in event["message"]


def test_the_diffusion_manifest_declares_its_tiers_and_model_parameter() -> None:
    spec = PipelineRegistry([REPO / "pipelines"]).get("diffusion")
    assert spec.model_parameters() == ["model"]
    assert spec.requires.python[:2] == ["torch", "diffusers"]
    assert spec.parameters["width"].multiple_of == 8


def test_a_notebook_lists_the_models_and_the_unavailable_pipelines(tmp_path: Path) -> None:
    from gms_lab.notebook.studio import Studio
    from tests.services import TEST_PIPELINES

    studio = Studio(tmp_path / "ws", pipelines_path=[REPO / "pipelines", TEST_PIPELINES])
    checkpoint(studio.core.workspace.models_dir / "dream-v1.safetensors", ["cond_stage_model.x"])
    assert [(m.name, m.format) for m in studio.models()] == [("dream-v1", "single-file")]
    unavailable = studio.unavailable_pipelines()
    assert "gms_module_nobody_installed" in unavailable["unplugged"]
    assert "pip install gms-module-nobody-installed" in unavailable["unplugged"]
    assert "diffusion" not in unavailable  # installed here (make test installs it)


def test_the_notebook_progress_row_carries_the_latest_preview(tmp_path: Path) -> None:
    from gms_lab.core.vcs import STUDIO_AUTHOR
    from gms_lab.models import ProjectCreate, TaskRecord, TaskStatus
    from gms_lab.notebook.studio import Studio, Task

    studio = Studio(tmp_path / "ws")
    project = studio.core.projects.create(ProjectCreate(name="Quay"), STUDIO_AUTHOR)
    preview = "05_Cache/previews/t1/00001.png"
    path = studio.core.projects.path(project.id) / preview
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x89PNG fake")
    record = TaskRecord(task_id="t1", project_id=project.id, node_id="sh", pipeline="diffusion")
    task = Task(studio, record, "Shot 1 · diffusion")
    event = {"type": "task_progress", "seq": 3, "status": "running", "progress": 0.4}
    assert task.apply({**event, "step": "denoising 4/10", "preview": preview})
    row = task.row()
    assert row["preview"].startswith("data:image/png;base64,") and row["step"] == "denoising 4/10"
    path.unlink()  # the worker moved on: the row keeps the last picture it had
    assert task.row()["preview"] == row["preview"]
    task.record.status = TaskStatus.completed
    assert task.row()["preview"] == ""
