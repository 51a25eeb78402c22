"""The comfyui pipeline program against the recorded ComfyUI, one recorded run per story.

The program runs as the local runner starts it (working dir `pipelines/`, its entry argv) and
is fed job lines whose `comfyui` block holds the workflow the recording's client sent, as the
studio would prepare it from a template. The replay answers only what ComfyUI answered; the
tests read what a user would see: the take's files, the progress words, the previews, the
errors, the cancel.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from PIL import Image

from gms_lab.embedded import free_port
from tests.comfyui_replay import ComfyReplay, check, recording, replay_server

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
EVENT_TIMEOUT = 30


def recorded_prompt(name: str) -> dict[str, Any]:
    """The workflow the recording's client queued (its POST /prompt body's `prompt`)."""
    for entry in recording(name)["entries"]:
        sent = entry.get("kind") == "http" and entry["direction"] == "client->server"
        if sent and entry.get("path") == "/prompt" and "body" in entry:
            return dict(entry["body"]["prompt"])
    raise AssertionError(f"{name} queued no prompt")


def recorded_view(name: str) -> bytes:
    """The bytes of the output the recording downloaded."""
    import base64

    for entry in recording(name)["entries"]:
        if entry.get("path", "").startswith("/view") and "body_base64" in entry:
            return base64.b64decode(entry["body_base64"])
    raise AssertionError(f"{name} downloaded nothing")


class ComfyPipeline:
    """The comfyui pipeline as a warm process: job lines in, events out."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-u", "comfyui/main.py"],
            cwd=PIPELINES,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(
            target=lambda: self.stderr.extend(self.process.stderr or []), daemon=True
        ).start()

    def _pump(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def next_event(self) -> dict[str, Any]:
        line = self.lines.get(timeout=EVENT_TIMEOUT)
        assert line is not None, f"the pipeline exited: {''.join(self.stderr[-20:])}"
        event: dict[str, Any] = json.loads(line)
        return event

    def events(self, job_id: str, until: Any = None) -> Iterator[dict[str, Any]]:
        """Events of a job up to its result or error (`until(event)` may stop earlier)."""
        while True:
            event = self.next_event()
            assert event["jobId"] == job_id, event
            yield event
            if event["event"] != "progress" or (until is not None and until(event)):
                return

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=EVENT_TIMEOUT)


@pytest.fixture(scope="module")
def replay() -> Iterator[ComfyReplay]:
    with replay_server() as server:
        yield server


@pytest.fixture(scope="module")
def pipeline() -> Iterator[ComfyPipeline]:
    process = ComfyPipeline()
    yield process
    assert process.close() == 0


class Jobs:
    """Job lines for one test's project folder."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.count = 0

    def line(self, workflow: dict[str, Any], **comfyui: Any) -> dict[str, Any]:
        self.count += 1
        job_id = f"job-{self.count}"
        out = self.root / "03_Renders" / ".jobs" / job_id
        out.mkdir(parents=True)
        block = {
            "url": self.url,
            "template": {"name": "recorded", "sha256": "0" * 64},
            "workflow": workflow,
            "bound": {},
            "uploads": [],
            "outputs": [],
            **comfyui,
        }
        return {
            "jobId": job_id,
            "parameters": {},
            "tier": {"name": "standard"},
            "outputDir": str(out),
            "projectDir": str(self.root),
            "comfyui": block,
        }


@pytest.fixture
def jobs(tmp_path: Path, replay: ComfyReplay) -> Jobs:
    return Jobs(tmp_path, replay.url)


def test_a_workflow_runs_and_its_saved_image_becomes_the_take(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    scenario = replay.play("b1")
    job = jobs.line(recorded_prompt("b1"))
    pipeline.send(job)
    *steps, result = pipeline.events(job["jobId"])
    check(scenario)

    assert result["event"] == "result", result
    [name] = result["outputs"]
    take = Path(job["outputDir"]) / name
    assert take.read_bytes() == recorded_view("b1")
    assert Image.open(take).size == (64, 64)
    comfy = result["metadata"]["comfyui"]
    assert comfy["promptId"] == recording("b1")["prompt_id"]
    assert comfy["outputs"] == [
        {"node": "2", "filename": "gms_empty_00001_.png", "subfolder": "", "type": "output"}
    ]
    assert comfy["workflow"] == recorded_prompt("b1")
    words = [s["step"] for s in steps]
    # node titles as ComfyUI names the node types (/object_info), in the order they ran
    assert "EmptyImage" in words and "Save Image" in words
    assert words.index("EmptyImage") < words.index("Save Image")
    fractions = [s["progress"] for s in steps]
    assert fractions == sorted(fractions)
    assert "/object_info/EmptyImage" in " ".join(scenario.log)


def test_a_fully_cached_run_still_brings_its_output(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    # b2 queued the same workflow again with a prompt id of the client's choosing: everything
    # came from ComfyUI's cache, with no `executing` for any node.
    scenario = replay.play("b2")
    job = jobs.line(recorded_prompt("b2"), promptId=recording("b2")["prompt_id"])
    pipeline.send(job)
    *steps, result = pipeline.events(job["jobId"])
    check(scenario)
    assert result["event"] == "result", result
    assert result["metadata"]["comfyui"]["cached"] == ["1", "2"]
    take = Path(job["outputDir"]) / result["outputs"][0]
    assert take.read_bytes() == recorded_view("b2")
    assert steps[-1]["progress"] >= 0.95


def test_progress_reads_node_and_step_and_only_goes_forward(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    scenario = replay.play("c1")
    job = jobs.line(recorded_prompt("c1"))
    pipeline.send(job)
    *steps, result = pipeline.events(job["jobId"])
    check(scenario)
    assert result["event"] == "result", result
    words = [s["step"] for s in steps]
    counted = [w for w in words if w.startswith("GMS Slow Noise (probe) ")]
    assert counted == [f"GMS Slow Noise (probe) {n}/20" for n in range(1, 21)]
    fractions = [s["progress"] for s in steps]
    assert fractions == sorted(fractions)
    # over the whole graph: the slow node fills the first half, Save Image the rest
    at_12 = fractions[words.index("GMS Slow Noise (probe) 12/20")]
    assert 0.2 < at_12 < 0.5
    assert fractions[words.index("Save Image")] >= 0.45
    assert words[0].startswith("Connecting to ComfyUI at http://127.0.0.1:")


@pytest.mark.parametrize(
    ("name", "announce"),
    [("c2", False), ("c3", True)],
    ids=["plain-previews", "previews-with-metadata"],
)
def test_comfyuis_previews_become_the_takes_previews(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs, name: str, announce: bool
) -> None:
    scenario = replay.play(name)
    job = jobs.line(recorded_prompt(name), previewMetadata=announce)
    pipeline.send(job)
    events = list(pipeline.events(job["jobId"]))
    # the recording ends before any download: the replay refuses it, and the take fails
    # naming the output it could not fetch
    check(scenario, allowed=("GET /view?filename=gms_noise_0000",))
    previews = [e for e in events if e.get("preview")]
    assert len(previews) == 4  # ComfyUI sent one every 5 of 20 steps
    for event in previews:
        picture = Path(job["outputDir"]) / event["preview"]
        assert picture.suffix == ".jpg"
        with Image.open(picture) as image:
            assert image.format == "JPEG" and image.size == (512, 512)
        assert event["step"].startswith("GMS Slow Noise (probe) ")
    # each preview arrives with the step it was made at (just before or after its `progress`)
    made_at = [int(e["step"].split()[-1].split("/")[0]) for e in previews]
    assert all(n in (at - 1, at) for n, at in zip(made_at, [5, 10, 15, 20], strict=True))
    assert events[-1]["event"] == "error"
    assert "did not deliver gms_noise_0000" in events[-1]["message"]
    assert "(output of node 2)" in events[-1]["message"]


INVALID = {
    "d1": 'node 1 "NoSuchNodeXYZ": Cannot execute because node NoSuchNodeXYZ does not exist '
    "(is the custom node installed?)",
    "d2": 'node 1 "EmptyImage", input "width": Required input is missing',
    "d3": "node 2 \"SaveImage\": Exception when validating node: KeyError '99' — "
    'input "images" links to node 99, which the workflow lacks',
    "d4": 'node 3 "EmptyImage", input "width": Return type mismatch between linked nodes '
    "(received_type(IMAGE) mismatch input_type(INT))",
    "d5": 'node 1 "EmptyImage", input "width": Value 0 smaller than min of 1; '
    "it is the studio parameter width = 0",
    "d6": "Prompt has no outputs (the workflow needs an output node, such as Save Image)",
    "d7": 'node 2 "SaveImage": Exception when validating node: IndexError tuple index out of '
    'range — input "images" takes output 5 of node 1; is that output there?',
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_a_refused_workflow_names_the_node_and_the_input(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs, name: str
) -> None:
    scenario = replay.play(name)
    width = {"value": 0, "inputs": [{"node": "1", "input": "width"}]}
    bound = {"width": width} if name == "d5" else {}
    job = jobs.line(recorded_prompt(name), bound=bound)
    pipeline.send(job)
    *_, last = pipeline.events(job["jobId"])
    check(scenario)
    assert last["event"] == "error"
    assert (
        last["message"] == f'ComfyUI refused the workflow of template "recorded": {INVALID[name]}'
    )


def test_a_node_that_fails_while_it_runs_is_named(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    scenario = replay.play("g1")
    job = jobs.line(recorded_prompt("g1"))
    pipeline.send(job)
    *_, last = pipeline.events(job["jobId"])
    check(scenario)
    assert last["event"] == "error"
    assert last["message"] == (
        'ComfyUI failed in node 1 "GMS Slow Noise (probe)" (GMSSlowNoise): RuntimeError: '
        "GMSSlowNoise: seed 13 is unlucky (deliberate test failure)"
    )


def test_cancelling_a_running_prompt_interrupts_it_in_comfyui(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    scenario = replay.play("e2")
    job = jobs.line(recorded_prompt("e2"))
    pipeline.send(job)
    for event in pipeline.events(job["jobId"], until=lambda e: e["step"].endswith(" 1/200")):
        assert event["event"] == "progress", event
    pipeline.send({"cancel": job["jobId"]})
    *_, last = pipeline.events(job["jobId"])
    check(scenario)
    assert last == {
        "jobId": job["jobId"],
        "event": "error",
        "message": "Cancelled.",
        "cancelled": True,
    }
    asked = [line for line in scenario.log if line.startswith("POST /interrupt")]
    assert asked == ["POST /interrupt"]  # with the prompt's id: only this prompt stops


def test_a_dropped_socket_is_reconnected_and_the_run_still_completes(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    scenario = replay.play("h3")
    job = jobs.line(recorded_prompt("h3"))
    pipeline.send(job)
    events = list(pipeline.events(job["jobId"]))
    # h3 holds no download either: everything up to it was as recorded
    check(scenario, allowed=("GET /view?filename=gms_noise_00005_.png&subfolder=&type=output",))
    words = [e["step"] for e in events if e["event"] == "progress"]
    counts = [int(w.split()[-1].split("/")[0]) for w in words if w.endswith("/40")]
    assert counts[:3] == [1, 2, 3] and counts[-1] == 40
    assert 4 not in counts and 7 not in counts  # said while the socket was down: lost
    assert counts == sorted(counts)
    fractions = [e["progress"] for e in events if e["event"] == "progress"]
    assert fractions == sorted(fractions)
    history = [i for i, line in enumerate(scenario.log) if line.startswith("GET /history/")]
    view = [i for i, line in enumerate(scenario.log) if line.startswith("GET /view")]
    assert len(history) == 1 and view and view[0] > history[0]  # outputs read from /history
    assert scenario.log.count(f"WebSocket connect {scenario_path(scenario)}") == 2


def scenario_path(scenario: Any) -> str:
    live = next(v for v in scenario.ids.values() if v)
    return f"/ws?clientId={live}"


def test_another_client_on_the_same_comfyui_sees_only_the_queue(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    from websockets.sync.client import connect

    scenario = replay.play("h4")
    observer_id = "8a320fb7171441f79eadf00c85b2d9fb"  # another user's browser, say
    with connect(f"{replay.url.replace('http', 'ws')}/ws?clientId={observer_id}") as observer:
        seen = [json.loads(observer.recv(10))]
        job = jobs.line(recorded_prompt("h4"))
        pipeline.send(job)
        events = list(pipeline.events(job["jobId"]))
        deadline = time.monotonic() + 10
        while len(seen) < 4 and time.monotonic() < deadline:
            seen.append(json.loads(observer.recv(10)))
    check(scenario, allowed=("GET /view?filename=gms_noise_00006_.png",))
    assert [m["type"] for m in seen] == ["status"] * 4
    counts = [e["step"] for e in events if e.get("step", "").startswith("GMS Slow Noise")]
    assert counts[-1] == "GMS Slow Noise (probe) 10/10"


def test_an_unreachable_comfyui_is_named_with_the_setting_that_moves_it(
    pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    job = jobs.line(recorded_prompt("b1"), url=nowhere)
    pipeline.send(job)
    *_, last = pipeline.events(job["jobId"])
    assert last["event"] == "error"
    assert last["message"] == (
        f"ComfyUI does not answer at {nowhere} (connection refused). Start ComfyUI there, or "
        "point the studio at yours with the setting comfyui_url (environment variable "
        "GMS_COMFYUI_URL)."
    )


def test_an_init_image_is_uploaded_first_and_the_replay_has_no_upload_recorded(
    replay: ComfyReplay, pipeline: ComfyPipeline, jobs: Jobs
) -> None:
    # No recording holds /upload/image, so the replay refuses it: what the test can show is
    # that the pipeline uploads before it queues anything, with ComfyUI's form fields.
    scenario = replay.play("b1")
    picture = jobs.root / "01_Assets" / "Characters" / "hero.png"
    picture.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(picture)
    workflow = recorded_prompt("b1")
    workflow["3"] = {"class_type": "LoadImage", "inputs": {"image": "example.png"}}
    upload = {"parameter": "init_image", "node": "3", "input": "image"}
    job = jobs.line(workflow, uploads=[{**upload, "path": "01_Assets/Characters/hero.png"}])
    pipeline.send(job)
    *_, last = pipeline.events(job["jobId"])
    deadline = time.monotonic() + 10
    while len(scenario.violations) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    refused, closed = scenario.violations  # then it gave up, closing its socket
    assert closed == "the client closed its main socket early"
    assert refused.startswith("no recording answers POST /upload/image")
    assert "multipart fields ['type', 'subfolder', 'overwrite', 'image']" in refused
    assert "POST /prompt" not in scenario.log
    assert last["event"] == "error"
    assert (
        last["message"].startswith("ComfyUI at http://127.0.0.1:")
        and "did not take 01_Assets/Characters/hero.png for node 3" in last["message"]
    )


# -- one ComfyUI client, several prompts: the pieces the pipeline is made of ---------------------
def comfy_modules() -> Any:
    """The pipeline's own modules (they live beside its main.py, not in a package)."""
    folder = str(PIPELINES / "comfyui")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import comfy_api
    import prompt_run

    return comfy_api, prompt_run


def recorded_prompts(name: str) -> list[dict[str, Any]]:
    return [
        e["body"]["prompt"]
        for e in recording(name)["entries"]
        if e.get("path") == "/prompt" and e["direction"] == "client->server" and "body" in e
    ]


def test_a_prompt_still_waiting_in_the_queue_is_taken_out_of_it(replay: ComfyReplay) -> None:
    # f1: one client queued two prompts; while the first ran, the second was deleted from the
    # queue; the first ran to its end and the second never did.
    comfy_api, prompt_run = comfy_modules()
    scenario = replay.play("f1", speed=8.0)
    server = comfy_api.ComfyServer(replay.url)
    client_id = "0123456789abcdef0123456789abcdef"
    link = server.socket(client_id)
    first, second = recorded_prompts("f1")
    runs = []
    for workflow in (first, second):
        run = prompt_run.PromptRun(workflow, title=lambda node: node)
        run.prompt_id = server.queue_prompt(workflow, client_id)["prompt_id"]
        runs.append(run)
    running, waiting = runs
    while not (running.started and running.current == "1"):
        message = link.receive(10)
        assert message is not None
        for run in runs:
            run.read(message)
    assert not waiting.started

    def watch(run: Any, cancel: bool) -> Any:
        return prompt_run.PromptWatch(
            server,
            client_id,
            link,
            run,
            wake=None,
            cancel_requested=lambda: cancel,
            on_update=lambda preview: None,
        )

    watch(waiting, cancel=True).cancel()
    assert waiting.outcome == "deleted"
    watch(running, cancel=False).follow()
    assert running.outcome == "success" and running.fraction == 1.0
    assert server.history(running.prompt_id)["outputs"]["2"]["images"][0]["filename"] == (
        "gms_noise_00004_.png"
    )
    assert server.history(waiting.prompt_id) is None  # it never ran
    link.close()
    check(scenario)
    asked = [line for line in scenario.log if not line.startswith("GET /object_info")]
    delete = asked.index("POST /queue")
    assert asked[delete + 1] == "GET /queue"  # confirmed gone from the queue
    assert "POST /interrupt" not in asked


def test_an_interrupt_without_a_prompt_id_ends_the_run_as_interrupted(
    replay: ComfyReplay,
) -> None:
    # e1: the global interrupt (what servers before targeted interrupts understand).
    comfy_api, prompt_run = comfy_modules()
    scenario = replay.play("e1")
    server = comfy_api.ComfyServer(replay.url)
    client_id = "fedcba9876543210fedcba9876543210"
    link = server.socket(client_id)
    [workflow] = recorded_prompts("e1")
    run = prompt_run.PromptRun(workflow, title=lambda node: node)
    run.prompt_id = server.queue_prompt(workflow, client_id)["prompt_id"]
    while run.value < 3:
        message = link.receive(10)
        assert message is not None
        run.read(message)
    server.interrupt(None)
    prompt_run.PromptWatch(
        server,
        client_id,
        link,
        run,
        wake=None,
        cancel_requested=lambda: False,
        on_update=lambda preview: None,
    ).follow()
    assert run.outcome == "interrupted" and run.ended
    assert run.details["node_type"] == "GMSSlowNoise"
    entry = server.history(run.prompt_id)
    assert entry["status"]["status_str"] == "error" and entry["outputs"] == {}
    link.close()
    check(scenario)
