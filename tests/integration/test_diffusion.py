"""Real generation: a filmmaker makes takes with the diffusion pipeline from the model library.

Through the real studio (Jupyter server, Redis, a Celery worker, a warm pipeline process) on a
tiny Stable Diffusion model with random weights that the tests build themselves under the
workspace's `Library/AI_Models/tiny-sd/` (no download anywhere).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from tests.conftest import Api
from tests.integration.test_generation import (
    make_shot,
    open_socket,
    submit,
    wait_finished,
)
from tests.model_library import build_tiny_sd, save_single_file
from tests.unit.test_pipeline_programs import PipelineProcess, job

pytest.importorskip("diffusers", reason="the diffusion extra is not installed")
pytestmark = pytest.mark.usefixtures("worker")
TIMEOUT = 180  # a loaded machine makes even a tiny model slow


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    """These tests share the worker's workspace; each makes its own project."""
    return task_workspace


@pytest.fixture(scope="module")
def tiny_sd(task_workspace: Path) -> Path:
    """The tiny model, saved in diffusers layout in the workspace's model library."""
    folder = task_workspace / "Library" / "AI_Models" / "tiny-sd"
    if not (folder / "model_index.json").is_file():
        build_tiny_sd(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_sd_single(tiny_sd: Path) -> Path:
    """The same model as one checkpoint in the original layout, its diffusers configs beside it."""
    folder = tiny_sd.parent / "tiny-sd-single"
    checkpoint = folder / "tiny-sd-single.safetensors"
    if not checkpoint.is_file():
        save_single_file(tiny_sd, folder)
    return checkpoint


def pixels(workspace: Path, pid: str, record: dict[str, Any]) -> Image.Image:
    path = workspace / "Projects" / pid / record["result"]["outputPath"]
    with Image.open(path) as image:
        return image.convert("RGB").copy()


def sidecar(workspace: Path, pid: str, record: dict[str, Any]) -> dict[str, Any]:
    path = workspace / "Projects" / pid / record["result"]["outputPath"]
    data: dict[str, Any] = json.loads(path.with_suffix(".json").read_text())
    return data


async def generate(api: Api, pid: str, shot: str, **params: Any) -> dict[str, Any]:
    params = {"model": "tiny-sd", "width": 80, "height": 64, "steps": 4, **params}
    record = await wait_finished(api, await submit(api, pid, shot, "diffusion", **params), TIMEOUT)
    assert record["status"] == "completed", record
    return record


async def test_the_library_lists_the_model_and_the_pipeline_is_available(
    api: Api, tiny_sd: Path
) -> None:
    status, body = await api.call("GET", "models")
    assert status == 200
    [model] = [m for m in body["models"] if m["name"] == "tiny-sd"]
    assert model["format"] == "diffusers" and model["family"] == "stable-diffusion-1"
    assert model["pipelineClass"] == "StableDiffusionPipeline"
    assert model["size"] == sum(p.stat().st_size for p in tiny_sd.rglob("*") if p.is_file())
    assert body["folder"].endswith("Library/AI_Models")

    status, body = await api.call("GET", "pipelines")
    listed = {p["id"]: p for p in body["pipelines"]}
    assert listed["diffusion"]["available"] is True and listed["diffusion"]["missing"] == []
    tiers = listed["diffusion"]["tiers"]
    assert tiers["low"]["optimizations"] == [
        "sequential-cpu-offload",
        "attention-slicing",
        "vae-tiling",
    ]
    assert tiers["standard"]["optimizations"] == ["model-cpu-offload"]
    assert tiers["high"]["optimizations"] == []
    unplugged = listed["unplugged"]
    assert unplugged["available"] is False
    assert unplugged["missing"] == ["gms_module_nobody_installed"]
    assert "pip install gms-module-nobody-installed" in unplugged["hint"]


async def test_text_to_image_is_reproducible_and_warm(
    api: Api, jp_ws_fetch: Any, workspace: Path, tiny_sd: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    first = await generate(api, pid, shot, prompt="a lighthouse at dusk", seed=11, steps=6)
    image = pixels(workspace, pid, first)
    assert image.size == (80, 64)  # the asked size

    again = await generate(api, pid, shot, prompt="a lighthouse at dusk", seed=11, steps=6)
    other = await generate(api, pid, shot, prompt="a lighthouse at dusk", seed=12, steps=6)
    assert ImageChops.difference(image, pixels(workspace, pid, again)).getbbox() is None
    assert ImageChops.difference(image, pixels(workspace, pid, other)).getbbox() is not None

    await socket.until("task_success", timeout=TIMEOUT, taskId=other["taskId"])  # read all
    # the second and third takes came from the same warm process, with no model load
    meta = [r["result"]["metadata"] for r in (first, again, other)]
    assert meta[0]["pid"] == meta[1]["pid"] == meta[2]["pid"]
    assert meta[1]["modelReused"] is True and meta[1]["model"]["loadSeconds"] == 0.0
    steps_of_again = [
        e["step"] for e in socket.seen if e.get("taskId") == again["taskId"] and "step" in e
    ]
    assert not [s for s in steps_of_again if s.startswith("loading model")]

    # every denoising step reported, in order, previews among them, then decoding
    progress = [
        e for e in socket.seen if e["type"] == "task_progress" and e["taskId"] == other["taskId"]
    ]
    steps = [e["step"] for e in progress]
    denoising = [s for s in steps if s.startswith("denoising")]
    assert denoising == [f"denoising {n}/6" for n in range(1, 7)]
    assert steps.index("decoding") > steps.index("denoising 6/6")
    previews = {e["preview"] for e in progress if e["preview"]}
    assert len(previews) >= 3 and all(p.startswith("05_Cache/previews/") for p in previews)
    # a preview is the take's own size (its latents scaled up whole times), no bigger
    last = [e["preview"] for e in progress if e["preview"]][-1]
    with Image.open(workspace / "Projects" / pid / last) as preview:
        assert preview.size == (80, 64)
    values = [e["progress"] for e in progress]
    assert values == sorted(values)

    # the sidecar says how to make it again, and what the tier really switched on
    side = sidecar(workspace, pid, first)
    assert side["pipeline"] == "diffusion" and side["tier"] == "standard"
    params = side["parameters"]
    assert (params["model"], params["seed"], params["steps"]) == ("tiny-sd", 11, 6)
    assert (params["guidance"], params["scheduler"], params["width"]) == (7.5, "default", 80)
    m = side["metadata"]
    assert m["model"]["name"] == "tiny-sd" and len(m["model"]["sha256"]) == 64
    assert m["model"]["sha256"] == sidecar(workspace, pid, again)["metadata"]["model"]["sha256"]
    assert (m["device"], m["dtype"], m["offload"]) == ("cpu", "float32", "none")
    assert m["tierOptimizations"] == ["model-cpu-offload"]
    assert "model-cpu-offload" in m["skipped"] and m["applied"] == []
    assert m["schedulerClass"] == "DDIMScheduler"

    # a scheduler with state between steps gives the same pixels whatever ran before it
    # (the process keeps one per kind: diffusers resets it at every call)
    dpm = [
        await generate(api, pid, shot, seed=4, steps=5, scheduler=kind)
        for kind in ("dpm-solver++", "euler-ancestral", "dpm-solver++")
    ]
    assert (
        ImageChops.difference(
            pixels(workspace, pid, dpm[0]), pixels(workspace, pid, dpm[2])
        ).getbbox()
        is None
    )
    assert (
        sidecar(workspace, pid, dpm[2])["metadata"]["schedulerClass"]
        == "DPMSolverMultistepScheduler"
    )


async def test_image_to_image_from_an_uploaded_asset(
    api: Api, workspace: Path, tiny_sd: Path
) -> None:
    pid, _, [shot] = await make_shot(api, quality="low")
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), "orange").save(buf, "PNG")
    status, _ = await api.call(
        "POST",
        f"projects/{pid}/files",
        raw=buf.getvalue(),
        params={"category": "locations", "name": "quay.png"},
    )
    assert status == 201
    source = "01_Assets/Locations/quay.png"
    record = await generate(
        api, pid, shot, prompt="the quay at night", init_image=source, strength=0.5, steps=8
    )
    assert pixels(workspace, pid, record).size == (80, 64)
    m = sidecar(workspace, pid, record)["metadata"]
    assert m["initImage"] == source and m["strength"] == 0.5
    assert m["initImageSha256"] == hashlib.sha256(buf.getvalue()).hexdigest()
    # the low tier on a CPU: the memory savers that work here are on, offload is not
    assert m["tier"] == "low" and m["offload"] == "none"
    assert m["applied"] == ["attention-slicing", "vae-tiling"]
    assert "needs a CUDA device" in m["skipped"]["sequential-cpu-offload"]

    status, body = await api.call(
        "POST",
        "tasks/submit",
        {
            "projectId": pid,
            "nodeId": shot,
            "pipeline": "diffusion",
            "parameters": {"model": "tiny-sd", "width": 100},
        },
    )
    assert status == 400 and "multiple of 8" in body["error"]["message"]


async def test_cancel_mid_run_keeps_the_model_warm(
    api: Api, jp_ws_fetch: Any, tiny_sd: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    warm = await generate(api, pid, shot, seed=1)
    running = await submit(
        api, pid, shot, "diffusion", model="tiny-sd", width=64, height=64, steps=200, seed=2
    )
    await socket.until("task_progress", timeout=TIMEOUT, taskId=running, step="denoising 2/200")
    started = time.monotonic()
    status, _ = await api.call("POST", f"tasks/{running}/cancel")
    assert status == 200
    failed = await socket.until("task_failed", timeout=TIMEOUT, taskId=running)
    assert failed["cancelled"] is True and failed["error"] == "Cancelled."
    record = await wait_finished(api, running)
    assert record["status"] == "cancelled"
    waited = time.monotonic() - started
    after = await generate(api, pid, shot, seed=3)
    meta = after["result"]["metadata"]
    assert meta["pid"] == warm["result"]["metadata"]["pid"]  # the same process…
    assert meta["modelReused"] is True  # …with the model still loaded
    assert waited < 30


async def test_unknown_model_is_a_400_naming_the_folder(
    api: Api, workspace: Path, tiny_sd: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    status, body = await api.call(
        "POST",
        "tasks/submit",
        {
            "projectId": pid,
            "nodeId": shot,
            "pipeline": "diffusion",
            "parameters": {"model": "dreamshaper-9"},
        },
    )
    assert status == 400
    message = body["error"]["message"]
    assert "dreamshaper-9" in message and "Library/AI_Models" in message
    assert "tiny-sd" in message  # what there is instead
    status, body = await api.call(
        "POST",
        "tasks/submit",
        {"projectId": pid, "nodeId": shot, "pipeline": "unplugged", "parameters": {}},
    )
    assert status == 400 and "gms_module_nobody_installed" in body["error"]["message"]
    _, project = await api.call("GET", f"projects/{pid}")
    assert project["chapters"][0]["scenes"][0]["shots"][0]["takes"] == []

    # without a model named, the library's first model is taken and recorded with the take
    record = await generate(api, pid, shot, model="")
    assert record["parameters"]["model"] == "tiny-sd"


def test_the_single_checkpoint_holds_every_weight_of_the_diffusers_model(
    tiny_sd: Path, tiny_sd_single: Path
) -> None:
    """Written in the original layout, read back by diffusers' own single-file loader."""
    import torch
    from diffusers import StableDiffusionPipeline
    from safetensors import safe_open

    with safe_open(str(tiny_sd_single), "pt") as opened:
        names = set(opened.keys())
    assert {n.split(".")[0] for n in names} == {"model", "first_stage_model", "cond_stage_model"}
    assert "model.diffusion_model.input_blocks.0.0.weight" in names  # the original's names
    assert "first_stage_model.decoder.up.0.block.0.conv1.weight" in names
    assert not [n for n in names if "down_blocks" in n or "resnets" in n]

    folder = StableDiffusionPipeline.from_pretrained(str(tiny_sd), local_files_only=True)
    single = StableDiffusionPipeline.from_single_file(
        str(tiny_sd_single), config=str(tiny_sd_single.parent), local_files_only=True
    )
    for part in ("unet", "vae", "text_encoder"):
        ours, theirs = getattr(folder, part).state_dict(), getattr(single, part).state_dict()
        assert ours.keys() == theirs.keys(), part
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), part


async def test_a_single_checkpoint_makes_the_same_pixels_as_the_folder(
    api: Api, workspace: Path, tiny_sd: Path, tiny_sd_single: Path
) -> None:
    status, body = await api.call("GET", "models")
    assert status == 200
    listed = {m["name"]: m for m in body["models"]}
    single = listed["tiny-sd-single"]
    assert single["format"] == "single-file" and single["family"] == "stable-diffusion-1"
    assert single["path"] == "tiny-sd-single/tiny-sd-single.safetensors"
    assert listed["tiny-sd"]["format"] == "diffusers"

    pid, _, [shot] = await make_shot(api)
    prompt = "a ferry in fog"
    from_folder = await generate(api, pid, shot, prompt=prompt, seed=21, steps=5)
    from_file = await generate(
        api, pid, shot, prompt=prompt, seed=21, steps=5, model="tiny-sd-single"
    )
    image = pixels(workspace, pid, from_file)
    assert image.size == (80, 64)
    assert ImageChops.difference(pixels(workspace, pid, from_folder), image).getbbox() is None

    m = sidecar(workspace, pid, from_file)["metadata"]
    assert m["model"]["name"] == "tiny-sd-single" and m["model"]["format"] == "single-file"
    assert len(m["model"]["sha256"]) == 64 and m["modelReused"] is False
    assert (
        m["model"]["sha256"] != sidecar(workspace, pid, from_folder)["metadata"]["model"]["sha256"]
    )
    assert from_file["parameters"]["model"] == "tiny-sd-single"


def _timed_run(
    process: PipelineProcess, line: dict[str, Any]
) -> list[tuple[float, dict[str, Any]]]:
    """Send a job; its events, each with the seconds from the send to its arrival."""
    sent = time.monotonic()
    process.send(json.dumps(line))
    events: list[tuple[float, dict[str, Any]]] = []
    while not events or events[-1][1]["event"] == "progress":
        event = process.next_event()
        events.append((time.monotonic() - sent, event))
    assert events[-1][1]["event"] == "result", events[-1]
    return events


def test_previews_are_paced_for_a_person_watching(tiny_sd: Path, tmp_path: Path) -> None:
    """`preview_every` (GMS_PREVIEW_EVERY): with 0, a preview every ceil(steps / 8) steps however
    quick the steps; with a pace, none in the take's first seconds and then one per pace at
    most, still on those steps (a quick take is done before a preview could be looked at)."""
    params = {"model": "tiny-sd", "width": 64, "height": 64, "seed": 4, "prompt": "a pier"}
    made = iter(range(100))

    def line(steps: int) -> dict[str, Any]:
        made_line = job(
            "diffusion", f"pace-{next(made)}", {**params, "steps": steps}, "standard", tmp_path
        )
        made_line["modelsDir"] = str(tiny_sd.parent)
        return made_line

    def previews(events: list[tuple[float, dict[str, Any]]]) -> list[tuple[float, int]]:
        """(arrival, step) of each progress event that names a preview."""
        return [
            (at, int(e["step"].split()[1].split("/")[0]))
            for at, e in events
            if e["event"] == "progress" and e.get("preview")
        ]

    unpaced = PipelineProcess("diffusion", env={"GMS_PREVIEW_EVERY": "0"})
    try:
        _timed_run(unpaced, line(2))  # loads the model
        assert [step for _, step in previews(_timed_run(unpaced, line(8)))] == list(range(1, 8))
        timed = _timed_run(unpaced, line(16))
        assert [step for _, step in previews(timed)] == [2, 4, 6, 8, 10, 12, 14]
    finally:
        unpaced.close()

    def sized(seconds: float, steps: int) -> int:
        """Steps (a multiple of 8, at most 800) for a take of about 2 s, at the speed of a
        take of `steps` that took `seconds`."""
        return min(800, 8 * math.ceil(2.0 / (seconds / steps) / 8))

    # a take of about 2 s on this machine, whatever its speed (a busy host times a step
    # slower than it later runs: a take too quick for the check is made again, longer).
    # Three previews need the denoising to last three paces and up to three cadence
    # intervals (an eighth of it each, a preview waiting for the next cadence step):
    # 3 x pace / (1 - 3/8) = 4.8 paces at least; a take of 6 leaves the decoding room.
    steps = sized(timed[-1][0], 16)

    pace = 0.25
    paced = PipelineProcess("diffusion", env={"GMS_PREVIEW_EVERY": str(pace)})
    try:
        _timed_run(paced, line(2))
        quick = _timed_run(paced, line(4))
        if quick[-1][0] < pace:  # done sooner than the pace: not one preview
            assert previews(quick) == []
        for _ in range(4):
            events = _timed_run(paced, line(steps))
            took = events[-1][0]
            if took >= 6 * pace or steps == 800:
                break
            steps = sized(took, steps)
        shown = previews(events)
        assert len(shown) >= 3, (took, shown)
        cadence = steps // 8
        assert all(step % cadence == 0 for _, step in shown)  # on the steps of the cadence
        assert shown[0][0] >= pace  # none in the first `pace` seconds
        # one per pace at most; arrivals may bunch behind a busy pipe (the reader descheduled
        # on a loaded host), so a gap may read short, not the typical one
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(shown)]
        assert statistics.median(gaps) >= pace - 0.05, gaps
        assert min(gaps) >= pace / 2, gaps
        assert len(shown) <= took / pace
    finally:
        paced.close()
