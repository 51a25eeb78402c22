"""A user makes takes with ComfyUI templates: the studio drives the recorded ComfyUI.

Real Redis, a real Celery worker, a real Jupyter server, the comfyui pipeline as a real local
process; ComfyUI is the replay of `tests/comfyui_replay.py`, which answers only what the real
one answered. The templates in `tests/fixtures/comfyui/templates/` are the recorded workflows,
so a take bound with the recorded values sends exactly the recorded prompt.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from gms_lab import Studio
from gms_lab.models import Quality
from tests.comfyui_replay import ComfyReplay, check, recording, replay_server
from tests.conftest import Api
from tests.integration.test_generation import make_shot, open_socket, submit, wait_finished
from tests.services import Worker, redis_server, studio_config

TEMPLATES = Path(__file__).resolve().parents[1] / "fixtures" / "comfyui" / "templates"


@pytest.fixture(scope="module")
def replay() -> Iterator[ComfyReplay]:
    with replay_server() as server:
        yield server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """This module's own Redis, so only its worker (pointed at the replay) takes its tasks."""
    with redis_server(tmp_path_factory.mktemp("comfy-redis")) as url:
        yield url


@pytest.fixture(scope="module")
def comfy_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("comfy-workspace")
    library = root / "Library" / "Pipeline_Templates"
    library.mkdir(parents=True)
    for path in TEMPLATES.iterdir():
        if path.suffix in (".json", ".toml"):
            shutil.copy(path, library / path.name)
    return root


@pytest.fixture(scope="module")
def comfy_worker(redis_url: str, comfy_workspace: Path, replay: ComfyReplay) -> Iterator[Worker]:
    config = studio_config(comfy_workspace, comfyui_url=replay.url)
    running = Worker(config, redis_url, comfy_workspace.parent / "comfy-worker.log").start()
    yield running
    running.stop()


@pytest.fixture
def workspace(comfy_workspace: Path, comfy_worker: Worker) -> Path:
    return comfy_workspace


@pytest.fixture
def studio_settings(replay: ComfyReplay) -> dict[str, Any]:
    return {"comfyui_url": replay.url}


def recorded_view(name: str) -> bytes:
    for entry in recording(name)["entries"]:
        if "body_base64" in entry:
            return base64.b64decode(entry["body_base64"])
    raise AssertionError(name)


async def test_templates_are_listed_with_what_they_take_and_what_each_tier_picks(
    api: Api, workspace: Path
) -> None:
    pid, _, _ = await make_shot(api)
    own = workspace / "Projects" / pid / "02_Source_Creative" / "workflows"
    own.mkdir(parents=True)
    # a workflow saved for ComfyUI's editor, not exported for its API
    (own / "editor-save.json").write_text(json.dumps({"nodes": [], "links": []}))
    (own / "editor-save.binding.toml").write_text('title = "x"\n')
    # a template without its binding file
    shutil.copy(TEMPLATES / "empty.json", own / "unbound.json")

    status, listing = await api.call(
        "GET", "pipelines/comfyui/templates", params={"projectId": pid}
    )
    assert status == 200, listing
    by_name = {t["name"]: t for t in listing["templates"]}
    noise = by_name["noise"]
    assert noise["source"] == "library" and noise["path"] == "Library/Pipeline_Templates/noise.json"
    assert noise["tiers"] == ["standard", "high"] and noise["error"] is None
    seed = next(p for p in noise["parameters"] if p["name"] == "seed")
    assert seed == {
        "name": "seed",
        "type": "integer",
        "default": 1,
        "minimum": None,
        "maximum": None,
        "description": "",
        "node": "1",
        "input": "seed",
        "nodeTitle": "GMSSlowNoise",
    }
    assert noise["sha256"] == hashlib.sha256((TEMPLATES / "noise.json").read_bytes()).hexdigest()
    assert listing["tiers"] == {"low": "empty", "standard": "noise", "high": "noise"}
    assert "Export (API)" in by_name["editor-save"]["error"]
    assert by_name["editor-save"]["source"] == "project"
    assert "has no binding file: write unbound.binding.toml" in by_name["unbound"]["error"]

    status, missing = await api.call("GET", "pipelines/still/templates")
    assert status == 404 and "takes no templates" in missing["error"]["message"]

    # a notebook sees the same
    film = Studio(workspace=workspace).project(pid)
    assert film is not None
    listed = film.templates()
    assert [t.name for t in listed.templates] == [t["name"] for t in listing["templates"]]
    assert listed.tiers[Quality.standard] == "noise"


async def test_a_take_made_with_a_comfyui_template(
    api: Api, jp_ws_fetch: Any, workspace: Path, replay: ComfyReplay
) -> None:
    scenario = replay.play("b1")
    pid, _, [shot] = await make_shot(api, quality="low")
    socket = await open_socket(jp_ws_fetch, pid)
    # no template named: the low tier picks "empty"; width and height as recorded
    task = await submit(api, pid, shot, "comfyui", width=64, height=64)
    success = await socket.until("task_success", timeout=60)
    check(scenario)
    assert success["taskId"] == task

    steps = [e["step"] for e in socket.seen if e["type"] == "task_progress"]
    assert "EmptyImage" in steps and "Save Image" in steps
    result = success["result"]
    folder = workspace / "Projects" / pid
    take = folder / result["outputPath"]
    assert take.read_bytes() == recorded_view("b1")
    assert Image.open(take).size == (64, 64)

    sidecar = json.loads(take.with_suffix(".json").read_text())
    assert sidecar["pipeline"] == "comfyui" and sidecar["parameters"]["template"] == "empty"
    comfy = sidecar["metadata"]["comfyui"]
    template = (TEMPLATES / "empty.json").read_bytes()
    assert comfy["template"] == {
        "name": "empty",
        "source": "library",
        "path": "Library/Pipeline_Templates/empty.json",
        "sha256": hashlib.sha256(template).hexdigest(),
        "bindingSha256": hashlib.sha256(
            (TEMPLATES / "empty.binding.toml").read_bytes()
        ).hexdigest(),
    }
    assert comfy["bound"] == {
        "width": {"value": 64, "inputs": [{"node": "1", "input": "width"}]},
        "height": {"value": 64, "inputs": [{"node": "1", "input": "height"}]},
    }
    assert comfy["promptId"] == recording("b1")["prompt_id"]
    assert comfy["workflow"] == json.loads(template)  # what ran: enough to run it again

    manifest = json.loads((folder / "project.json").read_text())
    [made] = manifest["chapters"][0]["scenes"][0]["shots"][0]["takes"]
    assert made["status"] == "completed" and made["parameters"]["template"] == "empty"


async def test_comfyuis_progress_shows_as_the_takes_progress(
    api: Api, jp_ws_fetch: Any, replay: ComfyReplay
) -> None:
    scenario = replay.play("c1")
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    await submit(api, pid, shot, "comfyui", template="noise", seed=1)
    await socket.until("task_success", timeout=60)
    check(scenario)
    running = [e for e in socket.seen if e["type"] == "task_progress" and e["status"] == "running"]
    counted = [e for e in running if e["step"].startswith("GMS Slow Noise (probe) ")]
    # bursts are merged on the way (50 ms), never reordered
    numbers = [int(e["step"].split()[-1].split("/")[0]) for e in counted]
    assert len(numbers) >= 5 and numbers == sorted(numbers) and numbers[-1] == 20
    assert all(e["step"].endswith("/20") for e in counted)
    values = [e["progress"] for e in running]
    assert values == sorted(values)


async def test_comfyuis_previews_show_in_the_generating_take(
    api: Api, jp_ws_fetch: Any, workspace: Path, replay: ComfyReplay
) -> None:
    scenario = replay.play("c2")
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    await submit(api, pid, shot, "comfyui", template="noise-previews", seed=2)
    while True:
        shown = await socket.until("task_progress", timeout=60)
        if shown.get("preview"):
            break
    # the picture is in the project while the take is made (the tile shows it)
    assert shown["preview"].startswith("05_Cache/previews/")
    assert shown["step"].startswith("GMS Slow Noise (probe) ")
    with Image.open(workspace / "Projects" / pid / shown["preview"]) as image:
        assert image.format == "JPEG" and image.size == (512, 512)
    failed = await socket.until("task_failed", timeout=60)
    # the recording ends before the download, so the take cannot be fetched: said plainly
    check(scenario, allowed=("GET /view?filename=gms_noise_00002_.png",))
    assert "did not deliver gms_noise_00002_.png (output of node 2)" in failed["error"]
    previews = [e["preview"] for e in socket.seen if e.get("preview")]
    assert len(set(previews)) >= 3  # ComfyUI sent four


async def test_cancelling_a_comfyui_take_interrupts_its_prompt(
    api: Api, jp_ws_fetch: Any, replay: ComfyReplay
) -> None:
    scenario = replay.play("e2")
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    task = await submit(api, pid, shot, "comfyui", template="noise", seed=5, steps=200)
    await socket.until("task_progress", timeout=60, step="GMS Slow Noise (probe) 1/200")
    status, _ = await api.call("POST", f"tasks/{task}/cancel")
    assert status == 200
    failed = await socket.until("task_failed", timeout=60)
    assert failed["cancelled"] is True and failed["error"] == "Cancelled."
    record = await wait_finished(api, task)
    assert record["status"] == "cancelled"
    check(scenario)
    assert "POST /interrupt" in scenario.log


@pytest.mark.parametrize(
    ("template", "parameters", "recorded", "words"),
    [
        (
            "missing-width",
            {},
            "d2",
            'node 1 "EmptyImage", input "width": Required input is missing',
        ),
        (
            "linked-width",
            {},
            "d4",
            'node 3 "EmptyImage", input "width": Return type mismatch between linked nodes',
        ),
        (
            "noise",
            {"seed": 13},
            "g1",
            'ComfyUI failed in node 1 "GMS Slow Noise (probe)" (GMSSlowNoise): RuntimeError: '
            "GMSSlowNoise: seed 13 is unlucky",
        ),
    ],
    ids=["missing-input", "wrong-link", "node-raises"],
)
async def test_what_comfyui_refuses_or_fails_is_said_plainly(
    api: Api,
    jp_ws_fetch: Any,
    replay: ComfyReplay,
    template: str,
    parameters: dict[str, Any],
    recorded: str,
    words: str,
) -> None:
    scenario = replay.play(recorded)
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    await submit(api, pid, shot, "comfyui", template=template, **parameters)
    failed = await socket.until("task_failed", timeout=60)
    check(scenario)
    assert words in failed["error"]
    assert failed["cancelled"] is False


async def test_an_unreachable_comfyui_is_named_with_its_setting(
    api: Api, jp_ws_fetch: Any, replay: ComfyReplay
) -> None:
    status, config = await api.call("GET", "workspace/config")
    assert status == 200
    assert config["health"]["comfyui"] == {
        "ok": True,
        "version": "0.3.64",
        "message": f"{replay.url} on cpu",
    }
    assert config["comfyuiUrl"] == replay.url and config["comfyuiConfigured"] is True

    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    with replay.offline():
        await submit(api, pid, shot, "comfyui", template="empty", width=64, height=64)
        failed = await socket.until("task_failed", timeout=60)
        # the health answer is reused for a few seconds: ask until it is a fresh one
        seen: list[dict[str, Any]] = []

        async def ask() -> None:
            _, answer = await api.call("GET", "workspace/config")
            seen.append(answer["health"]["comfyui"])

        await ask()
        while seen[-1]["ok"]:
            await asyncio.sleep(0.5)
            await ask()
            assert len(seen) < 60, seen
    assert failed["error"] == (
        f"ComfyUI does not answer at {replay.url} (connection refused). Start ComfyUI there, or "
        "point the studio at yours with the setting comfyui_url (environment variable "
        "GMS_COMFYUI_URL)."
    )
    health = seen[-1]
    assert health["ok"] is False
    assert replay.url in health["message"] and "comfyui_url (GMS_COMFYUI_URL)" in health["message"]


async def test_a_template_request_that_cannot_run_is_refused_at_once(api: Api) -> None:
    pid, _, [shot] = await make_shot(api)

    async def refused(**parameters: Any) -> tuple[int, str]:
        status, body = await api.call(
            "POST",
            "tasks/submit",
            {"projectId": pid, "nodeId": shot, "pipeline": "comfyui", "parameters": parameters},
        )
        return status, body["error"]["message"]

    status, message = await refused(template="nothing-" + secrets.token_hex(2))
    assert status == 404 and "No ComfyUI template" in message and "noise" in message
    status, message = await refused(template="empty", prompt="fog")
    assert status == 400 and message == (
        "Template 'empty' does not bind prompt (it takes: height, width)."
    )
    status, message = await refused(template="noise", init_image="01_Assets/none.png")
    assert status == 400 and "does not bind init_image" in message
