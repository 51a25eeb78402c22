"""A user generates takes: WebSocket in, live progress out; the take on disk, in manifest and git.

Real Redis, a real Celery worker, a real Jupyter server, pipelines as real local processes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from PIL import Image

from gms_lab.core.vcs import stable_author
from gms_lab.tasks.celery_app import make_celery, sender
from gms_lab.tasks.execute import PREVIEWS_LINGER
from tests.conftest import Api
from tests.services import CANCEL_GRACE, Worker

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    """These tests share the worker's workspace; each makes its own project."""
    return task_workspace


class Socket:
    """A WebSocket client of `/gms/ws/{projectId}` that reads typed events with timeouts."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.seen: list[dict[str, Any]] = []

    async def next(self, timeout: float = 30.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.read_message(), timeout)
        assert raw is not None, "the server closed the connection"
        event = json.loads(raw)
        self.seen.append(event)
        return event

    async def until(self, kind: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next(max(0.1, deadline - time.monotonic()))
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event

    def send(self, message: dict[str, Any]) -> None:
        self.conn.write_message(json.dumps(message))


async def open_socket(jp_ws_fetch: Any, project_id: str) -> Socket:
    socket = Socket(await jp_ws_fetch("gms", "ws", project_id))
    hello = await socket.next()
    assert hello["type"] == "hello" and hello["projectId"] == project_id
    return socket


async def make_shot(
    api: Api, quality: str = "standard", shots: int = 1
) -> tuple[str, str, list[str]]:
    """A new project with one chapter, one scene and `shots` shots: (project, scene, shot ids)."""
    name = f"Harbour {secrets.token_hex(3)}"
    status, project = await api.call("POST", "projects", {"name": name, "quality": quality})
    assert status == 201, project
    pid = project["id"]
    _, ch = await api.call("POST", f"projects/{pid}/nodes", {"kind": "chapter", "name": "Act 1"})
    _, sc = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": "scene", "parentId": ch["id"], "name": "Dawn"}
    )
    ids = []
    for n in range(shots):
        _, shot = await api.call(
            "POST",
            f"projects/{pid}/nodes",
            {"kind": "shot", "parentId": sc["id"], "name": f"Shot {n + 1}", "duration": 1.0},
        )
        ids.append(shot["id"])
    return pid, sc["id"], ids


async def submit(api: Api, pid: str, node: str, pipeline: str, **params: Any) -> str:
    status, body = await api.call(
        "POST",
        "tasks/submit",
        {"projectId": pid, "nodeId": node, "pipeline": pipeline, "parameters": params},
    )
    assert status == 202, body
    return str(body["taskId"])


async def wait_finished(api: Api, task_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, record = await api.call("GET", f"tasks/{task_id}/status")
        assert status == 200, record
        if record["status"] in ("completed", "error", "cancelled"):
            return record
        assert time.monotonic() < deadline, f"task still {record['status']}: {record}"
        await asyncio.sleep(0.05)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


async def test_generate_a_take_over_the_websocket(
    api: Api, jp_ws_fetch: Any, workspace: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    socket.send(
        {
            "type": "start_generation",
            "nodeId": shot,
            "nodeType": "still",
            "parameters": {"prompt": "fog over the harbour", "seed": 7},
        }
    )
    success = await socket.until("task_success", timeout=60)
    progress = [e for e in socket.seen if e["type"] == "task_progress"]
    statuses = [e["status"] for e in progress]
    assert statuses[0] == "pending" and "running" in statuses
    steps = [e["step"] for e in progress if e["status"] == "running" and e["progress"] > 0]
    assert len(steps) >= 3, steps  # the pipeline's own words, live
    values = [e["progress"] for e in progress]
    assert values == sorted(values) and values[-1] >= 0.9
    seqs = [e["seq"] for e in socket.seen if e.get("taskId") == success["taskId"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    result = success["result"]
    take_id = result["takeId"]
    folder = workspace / "Projects" / pid
    image = folder / result["outputPath"]
    assert image.is_file() and result["outputPath"].startswith("03_Renders/")
    assert Image.open(image).size == (1280, 720)  # standard tier: full scale
    sidecar = json.loads(image.with_suffix(".json").read_text())
    assert sidecar["pipeline"] == "still" and sidecar["tier"] == "standard"
    assert sidecar["seed"] == 7 and sidecar["parameters"]["prompt"] == "fog over the harbour"
    assert sidecar["parameters"]["steps"] == 20

    manifest = json.loads((folder / "project.json").read_text())
    shot_node = manifest["chapters"][0]["scenes"][0]["shots"][0]
    [take] = shot_node["takes"]
    assert take["id"] == take_id and take["status"] == "completed"
    assert take["file"] == result["outputPath"] and shot_node["selectedTake"] == take_id

    status, record = await api.call("GET", f"tasks/{success['taskId']}/status")
    assert status == 200 and record["status"] == "completed" and record["seq"] == success["seq"]
    assert record["runner"] == "local" and record["attempts"] == 1
    _status, listing = await api.call("GET", "tasks", params={"projectId": pid})
    listed = {t["taskId"]: t["pipeline"] for t in listing["tasks"]}
    assert listed[success["taskId"]] == "still"
    # besides the take's task, only its thumbnail's (queued once the take was filed)
    assert set(listed.values()) <= {"still", "thumbnail"} and len(listed) <= 2

    # committed to git by the debounced auto-commit, media through LFS
    deadline = time.monotonic() + 20
    while result["outputPath"] not in git(folder, "ls-tree", "-r", "--name-only", "HEAD"):
        assert time.monotonic() < deadline, "the take was not committed"
        await asyncio.sleep(0.1)
    pointer = git(folder, "cat-file", "-p", f"HEAD:{result['outputPath']}")
    assert pointer.startswith("version https://git-lfs.github.com/spec/v1")
    assert git(folder, "log", "-1", "--format=%s").strip() == "Add 1 take"
    # by the studio's stable author, not the request's random guest name
    assert git(folder, "log", "-1", "--format=%an").strip() == stable_author().name


async def test_a_burst_of_takes_is_one_commit_and_the_process_stays_warm(
    api: Api, workspace: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    ids = [await submit(api, pid, shot, "slow", seconds=0.0) for _ in range(3)]
    records = [await wait_finished(api, t) for t in ids]
    assert [r["status"] for r in records] == ["completed"] * 3
    pids = {r["result"]["metadata"]["pid"] for r in records}
    jobs = sorted(r["result"]["metadata"]["jobsInProcess"] for r in records)
    assert len(pids) == 1 and jobs[-1] >= 3, records  # one warm process answered every take
    folder = workspace / "Projects" / pid
    deadline = time.monotonic() + 20
    while "Add 3 takes" not in git(folder, "log", "--format=%s"):
        assert time.monotonic() < deadline, git(folder, "log", "--format=%s")
        await asyncio.sleep(0.1)
    assert git(folder, "log", "--format=%s").splitlines() == ["Add 3 takes", "Create project"]
    # each job's folder is kept, empty, for the next job (renamed, not made and removed)
    jobs = folder / "03_Renders" / ".jobs"
    while {p.name for p in jobs.iterdir()} & set(ids):
        assert time.monotonic() < deadline, list(jobs.iterdir())
        await asyncio.sleep(0.05)
    spares = list(jobs.iterdir())
    assert 1 <= len(spares) <= 3 and all(p.name.startswith(".spare-") for p in spares), spares
    assert not [p for p in spares if any(p.iterdir())]


@pytest.mark.parametrize(
    ("pipeline", "message"),
    [
        ("garbage", "not a protocol event"),
        ("crash", "exited with code 3"),
        ("hang", "timeout"),
        ("escape", "outside its output folder"),
    ],
)
async def test_a_misbehaving_pipeline_fails_only_its_job(
    api: Api, jp_ws_fetch: Any, workspace: Path, pipeline: str, message: str
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    task_id = await submit(api, pid, shot, pipeline)
    failed = await socket.until("task_failed", timeout=40, taskId=task_id)
    assert message in failed["error"], failed
    if pipeline == "crash":
        assert "weights.safetensors is missing" in failed["error"]  # the stderr tail
    record = await wait_finished(api, task_id)
    assert record["status"] == "error" and message in record["error"]
    manifest = json.loads((workspace / "Projects" / pid / "project.json").read_text())
    take = manifest["chapters"][0]["scenes"][0]["shots"][0]["takes"][0]
    assert take["status"] == "error" and message in take["error"]
    assert not (workspace / "Projects" / pid / "escape.png").exists()
    assert not (workspace / "Projects" / "escape.png").exists()
    # the worker survived: the next take works
    ok = await wait_finished(api, await submit(api, pid, shot, "slow"))
    assert ok["status"] == "completed"


async def test_one_shot_pipelines_are_valid(api: Api) -> None:
    pid, _, [shot] = await make_shot(api)
    first = await wait_finished(api, await submit(api, pid, shot, "oneshot"))
    second = await wait_finished(api, await submit(api, pid, shot, "oneshot"))
    assert first["status"] == second["status"] == "completed"
    assert first["result"]["metadata"]["pid"] != second["result"]["metadata"]["pid"]


async def test_cancel_a_running_and_a_queued_task(api: Api, jp_ws_fetch: Any) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    running = await submit(api, pid, shot, "slow", seconds=30.0)
    queued = await submit(api, pid, shot, "slow", seconds=30.0)  # one worker process: waits
    await socket.until("task_progress", taskId=running, status="running")
    status, record = await api.call("POST", f"tasks/{queued}/cancel")
    assert status == 200 and record["status"] == "cancelled"
    started = time.monotonic()
    status, record = await api.call("POST", f"tasks/{running}/cancel")
    assert status == 200
    failed = await socket.until("task_failed", timeout=CANCEL_GRACE + 10, taskId=running)
    # `slow` does not know the cancel line: it had its grace, then it was stopped
    assert failed["cancelled"] is True and time.monotonic() - started < CANCEL_GRACE + 5
    assert (await wait_finished(api, running))["status"] == "cancelled"
    status, _body = await api.call("POST", f"tasks/{running}/cancel")
    assert status == 409
    # the cancelled job's process was stopped: the next job gets a fresh one
    fresh = await wait_finished(api, await submit(api, pid, shot, "slow"))
    assert fresh["result"]["metadata"]["jobsInProcess"] == 1


async def test_a_cancelled_take_leaves_its_pipeline_warm(api: Api, jp_ws_fetch: Any) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    warm = await wait_finished(api, await submit(api, pid, shot, "paced", steps=1, pause=0))
    running = await submit(api, pid, shot, "paced", steps=600, pause=0.05)
    await socket.until("task_progress", taskId=running, step="step 1/600")
    started = time.monotonic()
    status, _record = await api.call("POST", f"tasks/{running}/cancel")
    assert status == 200
    failed = await socket.until("task_failed", timeout=10, taskId=running)
    assert failed["cancelled"] is True and failed["error"] == "Cancelled."
    assert time.monotonic() - started < CANCEL_GRACE  # it answered; nobody had to stop it
    record = await wait_finished(api, running)
    assert record["status"] == "cancelled" and record["preview"] is None
    _, project = await api.call("GET", f"projects/{pid}")
    take = project["chapters"][0]["scenes"][0]["shots"][0]["takes"][-1]
    assert take["status"] == "cancelled"  # a cancel is not an error
    # the same process, its model still loaded, makes the next take
    after = await wait_finished(api, await submit(api, pid, shot, "paced", steps=1, pause=0))
    assert after["status"] == "completed"
    assert after["result"]["metadata"]["pid"] == warm["result"]["metadata"]["pid"]
    jobs = after["result"]["metadata"]["jobsInProcess"]
    assert jobs == warm["result"]["metadata"]["jobsInProcess"] + 2


async def test_quick_previews_are_each_published_but_do_not_each_write_the_record(
    api: Api, jp_ws_fetch: Any, workspace: Path, redis_url: str
) -> None:
    """A preview every 20 ms (a quick model): every one is published, each a new file, but the
    record is written with a new preview at most every `RECORD_EVERY` (its writes counted by
    Redis), and the preview the record names is on disk for as long as it names it."""
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    client = redis.Redis.from_url(redis_url)

    def scripts() -> int:
        return int(client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0))

    before = scripts()
    task = await submit(api, pid, shot, "paced", steps=40, pause=0.02, preview_every=1)
    named = set()
    while True:
        _status, record = await api.call("GET", f"tasks/{task}/status")
        if record["status"] not in ("pending", "running"):
            break
        if record["preview"]:
            named.add(record["preview"])
            there = (workspace / "Projects" / pid / record["preview"]).is_file()
            _status, again = await api.call("GET", f"tasks/{task}/status")
            assert there or again["preview"] != record["preview"], record["preview"]
        await asyncio.sleep(0.005)
    assert record["status"] == "completed"
    writes = scripts() - before
    await socket.until("task_success", timeout=30, taskId=task)
    progress = [e for e in socket.seen if e["type"] == "task_progress" and e["taskId"] == task]
    previews = [e["preview"] for e in progress if e["preview"]]
    assert len(set(previews)) >= 30  # a new file for each one
    assert named  # the record named some while the take ran
    # its submit, start and end, and a write every RECORD_EVERY (0.8 s of steps): far fewer
    # than one a preview
    assert writes < len(set(previews)) / 2, writes


async def test_previews_stream_live_and_can_be_downloaded(
    api: Api, jp_ws_fetch: Any, jp_fetch: Any, workspace: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    task = await submit(api, pid, shot, "paced", steps=12, pause=0.2, preview_every=3)
    event = await socket.until("task_progress", taskId=task, step="step 3/12")
    preview = event["preview"]
    assert preview.startswith(f"05_Cache/previews/{task}/") and preview.endswith(".png")
    response = await jp_fetch("gms", "api", "projects", pid, "files", *preview.split("/"))
    assert response.code == 200 and response.body.startswith(b"\x89PNG")
    _status, record = await api.call("GET", f"tasks/{task}/status")
    assert record["preview"] == preview  # a client that reconnects sees it too
    await socket.until("task_success", timeout=30, taskId=task)
    progress = [e for e in socket.seen if e["type"] == "task_progress" and e["taskId"] == task]
    steps = [e["step"] for e in progress if e["step"].startswith("step ")]
    assert steps == [f"step {n}/12" for n in range(1, 13)]  # every step, in order
    previews = [e["preview"] for e in progress if e["step"].startswith("step ")]
    changed = [p for n, p in enumerate(previews) if p and p != (previews[n - 1] if n else None)]
    assert len(changed) == 4 and len(set(changed)) == 4  # a new file for each new preview
    # the take replaced its previews; the cache keeps none of them once a client told of the
    # last one had time to fetch it, and git never saw them
    record = await wait_finished(api, task)
    assert record["preview"] is None
    folder = workspace / "Projects" / pid
    kept = folder / "05_Cache" / "previews" / task
    deadline = time.monotonic() + PREVIEWS_LINGER + 30
    while kept.exists():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert "05_Cache" not in git(folder, "status", "--porcelain", "--ignored=no")


async def test_bad_requests_get_clear_answers(api: Api, jp_ws_fetch: Any) -> None:
    pid, scene, [shot] = await make_shot(api)
    cases = [
        ({"projectId": pid, "nodeId": shot, "pipeline": "dream"}, 404, "Unknown pipeline"),
        ({"projectId": "nope", "nodeId": shot, "pipeline": "still"}, 404, "No project"),
        ({"projectId": pid, "nodeId": "sh_nope", "pipeline": "still"}, 404, "sh_nope"),
        ({"projectId": pid, "nodeId": scene, "pipeline": "still"}, 400, "shots"),
        (
            {
                "projectId": pid,
                "nodeId": shot,
                "pipeline": "still",
                "parameters": {"steps": "many"},
            },
            400,
            "integer",
        ),
        (
            {
                "projectId": pid,
                "nodeId": shot,
                "pipeline": "still",
                "parameters": {"colour": "red"},
            },
            400,
            "no parameter",
        ),
        (
            {
                "projectId": pid,
                "nodeId": shot,
                "pipeline": "still",
                "parameters": {"width": 100000},
            },
            400,
            "≤",
        ),
    ]
    for body, expected, words in cases:
        status, answer = await api.call("POST", "tasks/submit", body)
        assert status == expected, (body, answer)
        assert words in answer["error"]["message"], answer
    status, answer = await api.call("GET", "tasks/nope/status")
    assert status == 404
    status, answer = await api.call("GET", "tasks")
    assert status == 400
    # nothing was half-created: no take on the shot
    _, project = await api.call("GET", f"projects/{pid}")
    assert project["chapters"][0]["scenes"][0]["shots"][0]["takes"] == []

    socket = await open_socket(jp_ws_fetch, pid)
    socket.conn.write_message("{not json")
    error = await socket.until("error")
    assert error["code"] == "bad_message"
    socket.send({"type": "teleport"})
    assert (await socket.until("error"))["code"] == "bad_message"
    socket.send({"type": "start_generation", "nodeId": shot, "nodeType": "dream"})
    error = await socket.until("error")
    assert "Unknown pipeline" in error["message"]
    socket.send({"type": "ping", "time": 1.5})
    assert (await socket.until("pong"))["time"] == 1.5  # still connected


async def test_unknown_project_socket_gets_an_error(jp_ws_fetch: Any) -> None:
    conn = await jp_ws_fetch("gms", "ws", "no-such-project")
    event = json.loads(await asyncio.wait_for(conn.read_message(), 10))
    assert event["type"] == "error" and event["code"] == "project_not_found"
    assert await asyncio.wait_for(conn.read_message(), 10) is None  # closed


async def test_selection_and_panel_changes_reach_other_clients(api: Api, jp_ws_fetch: Any) -> None:
    pid, _, [shot] = await make_shot(api)
    alice = await open_socket(jp_ws_fetch, pid)
    bob = await open_socket(jp_ws_fetch, pid)
    alice.send({"type": "selection_change", "nodeId": shot, "selection": [shot]})
    seen = await bob.until("selection_change")
    assert seen["nodeId"] == shot and seen["clientId"]
    # a size that is not a JSON number is refused, not relayed as a number
    alice.send({"type": "panel_resize", "panel": "inspector", "size": True})
    assert (await alice.until("error"))["code"] == "bad_message"
    alice.send({"type": "panel_resize", "panel": "inspector", "size": 320})
    assert (await bob.until("panel_resize"))["size"] == 320
    alice.send({"type": "ping"})
    await alice.until("pong")
    assert not [e for e in alice.seen if e["type"] in ("selection_change", "panel_resize")]


async def test_animatic_of_a_scene(api: Api, workspace: Path) -> None:
    pid, scene, shots = await make_shot(api, quality="low", shots=2)
    for n, shot in enumerate(shots):
        done = await wait_finished(
            api, await submit(api, pid, shot, "still", prompt=f"shot {n}", width=320, height=180)
        )
        assert done["status"] == "completed"
    await api.call(
        "PATCH",
        f"projects/{pid}",
        {"settings": {"fps": 12, "resolution": {"width": 320, "height": 180}}},
    )
    record = await wait_finished(api, await submit(api, pid, scene, "animatic"), timeout=120)
    assert record["status"] == "completed", record
    out = record["result"]["outputPath"]
    assert out == "06_Exports/animatic-dawn.mp4"
    assert (workspace / "Projects" / pid / out).stat().st_size > 1000
    meta = record["result"]["metadata"]
    assert (meta["duration"], meta["fps"], meta["width"], meta["height"]) == (2.0, 12, 320, 180)
    status, _answer = await api.call(
        "POST", "tasks/submit", {"projectId": pid, "nodeId": shots[0], "pipeline": "animatic"}
    )
    assert status == 400


async def test_pipelines_and_quality_mappings(api: Api) -> None:
    status, body = await api.call("GET", "pipelines")
    assert status == 200
    ids = {p["id"] for p in body["pipelines"]}
    assert {"still", "animatic", "thumbnail"} <= ids
    still = next(p for p in body["pipelines"] if p["id"] == "still")
    assert "not a diffusion model" in still["description"]
    assert still["parameters"]["seed"]["type"] == "integer"
    status, body = await api.call("GET", "quality/mappings")
    tiers = body["mappings"]["still"]
    assert tiers["low"]["pipelineId"] == "gms-still:1.0-low-vram"
    assert tiers["high"]["parameters"]["steps"] == 40
    assert {"pipelineId", "targetVram", "optimizations"} <= set(tiers["standard"])


async def test_quality_picks_the_tier(api: Api, workspace: Path) -> None:
    pid, _, [shot] = await make_shot(api, quality="low")
    record = await wait_finished(api, await submit(api, pid, shot, "still", width=320, height=180))
    assert record["tier"] == "low"
    image = workspace / "Projects" / pid / record["result"]["outputPath"]
    assert Image.open(image).size == (160, 90)  # the low tier renders at half scale
    assert record["result"]["metadata"]["steps"] == 8


async def test_uploaded_assets_get_thumbnails(api: Api, jp_ws_fetch: Any, workspace: Path) -> None:
    pid, _, _ = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    buf = io.BytesIO()
    Image.new("RGB", (800, 400), "navy").save(buf, "PNG")
    status, _body = await api.call(
        "POST",
        f"projects/{pid}/files",
        raw=buf.getvalue(),
        params={"category": "characters", "name": "hero.png"},
    )
    assert status == 201
    added = await socket.until("asset_added", timeout=30)
    thumb = added["asset"]["thumbnail"]
    assert thumb and added["asset"]["path"] == "01_Assets/Characters/hero.png"
    status, listing = await api.call("GET", f"projects/{pid}/assets")
    assert listing["categories"]["characters"][0]["thumbnail"] == thumb
    status, data = await api.call("GET", thumb.removeprefix("gms/api/"))
    assert status == 200 and max(Image.open(io.BytesIO(data)).size) == 256


async def test_a_generated_take_gets_a_thumbnail(api: Api, workspace: Path) -> None:
    pid, _, [shot] = await make_shot(api)
    record = await wait_finished(api, await submit(api, pid, shot, "still", prompt="a quay"))
    take_id = record["result"]["takeId"]
    deadline = time.monotonic() + 30
    while True:
        _, project = await api.call("GET", f"projects/{pid}")
        take = project["chapters"][0]["scenes"][0]["shots"][0]["takes"][0]
        if take["thumbnail"]:
            break
        assert time.monotonic() < deadline, take
        await asyncio.sleep(0.1)
    assert take["id"] == take_id and take["thumbnail"].startswith("05_Cache/thumbnails/")
    thumb = Image.open(workspace / "Projects" / pid / take["thumbnail"])
    assert max(thumb.size) == 256  # a preview, not the 1280x720 render


def test_worker_fixture_is_a_real_celery_worker(worker: Worker) -> None:
    assert worker.proc is not None and worker.proc.poll() is None


def test_a_queued_task_costs_no_celery_result_subscription(worker: Worker, redis_url: str) -> None:
    """A task's record is its result: the studio's send keeps no Celery result, so queueing
    costs no SUBSCRIBE to a result channel and no UNSUBSCRIBE when the `AsyncResult` is
    dropped (Celery's plain `send_task` makes both)."""
    client = redis.Redis.from_url(redis_url)
    celery = make_celery(worker.config, redis_url)

    def calls() -> int:
        stats = client.info("commandstats")
        return sum(
            stats.get(f"cmdstat_{c}", {}).get("calls", 0) for c in ("subscribe", "unsubscribe")
        )

    made = {}
    for way, send in (
        ("studio", sender(celery)),
        ("plain", lambda name, tid, kw: celery.send_task(name, kwargs=kw, task_id=tid)),
    ):
        before, key = calls(), f"test:ping:{secrets.token_hex(4)}"
        send("gms.ping", uuid.uuid4().hex, {"key": key})
        deadline = time.monotonic() + 20
        while not client.exists(key):
            assert time.monotonic() < deadline, f"the worker did not run the {way} ping"
            time.sleep(0.02)
        made[way] = calls() - before
    assert made["studio"] == 0 and made["plain"] >= 2, made


def png(width: int, height: int, colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


async def test_a_shot_carries_its_prompt_style_and_references_into_its_takes(
    api: Api, workspace: Path
) -> None:
    """The director writes the shot's prompt once, drops a plate on it, and every take (each
    pipeline as far as it can) is made from them; the sidecar says what was used."""
    pid, _, [shot] = await make_shot(api)
    folder = workspace / "Projects" / pid
    plate = png(96, 40, "orange")
    status, uploaded = await api.call(
        "POST",
        f"projects/{pid}/files",
        raw=plate,
        params={"category": "locations", "name": "quay.png"},
    )
    assert status == 201, uploaded
    quay = uploaded["assets"][0]["path"]
    status, node = await api.call(
        "PATCH",
        f"projects/{pid}/nodes/{shot}",
        {
            "prompt": "fog over the harbour",
            "negativePrompt": "people",
            "style": "35mm, dusk",
            "references": [quay],
        },
    )
    assert status == 200, node
    assert node["node"]["prompt"] == "fog over the harbour"
    assert node["node"]["references"] == [quay]

    # the still painter takes a prompt (with the style added) but no image
    still = await wait_finished(api, await submit(api, pid, shot, "still", seed=3))
    assert still["status"] == "completed", still
    sidecar = json.loads((folder / still["result"]["outputPath"]).with_suffix(".json").read_text())
    assert sidecar["prompt"] == "fog over the harbour, 35mm, dusk"
    assert sidecar["parameters"]["prompt"] == "fog over the harbour, 35mm, dusk"
    assert sidecar["negativePrompt"] == "people" and sidecar["style"] == "35mm, dusk"
    assert sidecar["references"] == [quay] and sidecar["initImage"] is None

    # an image-to-image pipeline gets the reference as its init image
    img = await wait_finished(api, await submit(api, pid, shot, "img2img"))
    assert img["status"] == "completed", img
    made = folder / img["result"]["outputPath"]
    assert Image.open(made).size == (96, 40)  # the plate's pixels, mirrored
    sidecar = json.loads(made.with_suffix(".json").read_text())
    assert sidecar["initImage"] == quay and sidecar["parameters"]["init_image"] == quay
    assert sidecar["metadata"]["initSha256"] == hashlib.sha256(plate).hexdigest()

    # what the request says wins over the shot
    own = await wait_finished(api, await submit(api, pid, shot, "still", prompt="a gull", seed=3))
    sidecar = json.loads((folder / own["result"]["outputPath"]).with_suffix(".json").read_text())
    assert sidecar["prompt"] == "a gull, 35mm, dusk"

    # the asset renamed through the API: the shot follows it; in the trash, it is skipped
    status, moved = await api.call(
        "PATCH", f"projects/{pid}/assets/{quay}", {"name": "north-quay", "folder": "harbour"}
    )
    assert status == 200, moved
    assert moved["path"] == "01_Assets/Locations/harbour/north-quay.png"
    _, manifest = await api.call("GET", f"projects/{pid}")
    assert manifest["chapters"][0]["scenes"][0]["shots"][0]["references"] == [moved["path"]]
    status, gone = await api.call("DELETE", f"projects/{pid}/assets/{moved['path']}")
    assert status == 200 and gone["trashId"], gone
    grey = await wait_finished(api, await submit(api, pid, shot, "img2img"))
    sidecar = json.loads((folder / grey["result"]["outputPath"]).with_suffix(".json").read_text())
    assert sidecar["references"] == [] and sidecar["initImage"] is None


async def test_generate_every_shot_of_a_scene_each_with_its_own_prompt(api: Api) -> None:
    pid, _, shots = await make_shot(api, shots=3)
    prompts = ["a quay at dawn", "gulls over the sea", "a lighthouse in fog"]
    for shot, prompt in zip(shots, prompts, strict=True):
        status, _ = await api.call("PATCH", f"projects/{pid}/nodes/{shot}", {"prompt": prompt})
        assert status == 200
    tasks = [await submit(api, pid, shot, "still", steps=2) for shot in shots]
    records = [await wait_finished(api, task) for task in tasks]
    assert [r["status"] for r in records] == ["completed"] * 3
    assert [r["parameters"]["prompt"] for r in records] == prompts
    assert [r["nodeId"] for r in records] == shots
