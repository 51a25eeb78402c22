"""Several takes of a shot from one submit (`count`): each a task of its own, all or none.

A pipeline of quick takes (`takes_per_message`) has a worker run several of them from one
queue message. Real Redis, a real Celery worker, a real Jupyter server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from gms_lab.tasks.celery_app import QUEUE
from gms_lab.tasks.recovery import UNACKED, _task_ids
from gms_lab.tasks.service import EXECUTE, EXECUTE_TAKES
from tests.conftest import Api
from tests.integration.test_generation import make_shot, open_socket, wait_finished

pytestmark = pytest.mark.usefixtures("worker")


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    """The server spreads a submit's takes over at least 4 messages (as for 4 worker threads):
    8 takes make messages of 2."""
    return {"worker_concurrency": 4}


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    """These tests share the worker's workspace; each makes its own project."""
    return task_workspace


async def submit_takes(
    api: Api, pid: str, shot: str, count: int, pipeline: str = "batched", **params: Any
) -> list[str]:
    status, body = await api.call(
        "POST",
        "tasks/submit",
        {
            "projectId": pid,
            "nodeId": shot,
            "pipeline": pipeline,
            "parameters": params,
            "count": count,
        },
    )
    assert status == 202, body
    ids = body["taskIds"]
    assert len(ids) == count == len(set(ids)) and body["taskId"] == ids[0], body
    return list(ids)


def queued_messages(url: str) -> list[list[str]]:
    """The studio tasks of each generation message waiting in the queue or held by a worker
    (not the scheduled commits)."""
    client = redis.Redis.from_url(url)
    # a held message is kept with its exchange and routing key, as recovery reads it
    held = [json.loads(p) for p in client.hvals(UNACKED)]
    waiting = [[json.loads(p), "", QUEUE] for p in client.lrange(QUEUE, 0, -1)]
    return [
        _task_ids(json.dumps(entry))[1]
        for entry in held + waiting
        if entry[0]["headers"]["task"] in (EXECUTE, EXECUTE_TAKES)
    ]


def shot_takes(workspace: Path, pid: str) -> list[dict[str, Any]]:
    manifest = json.loads((workspace / "Projects" / pid / "project.json").read_text())
    takes: list[dict[str, Any]] = manifest["chapters"][0]["scenes"][0]["shots"][0]["takes"]
    return takes


async def test_one_submit_makes_several_takes_each_a_task_of_its_own(
    api: Api, jp_ws_fetch: Any, workspace: Path, redis_url: str
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    ids = await submit_takes(api, pid, shot, 8, seed=10, seconds=0.3)

    # up to 4 takes a message (the pipeline's takes_per_message), spread over at least as many
    # messages as the studio's worker threads (4 here, `studio_settings`)
    messages = queued_messages(redis_url)
    ours = [m for m in messages if set(m) <= set(ids)]
    assert ours and max(len(m) for m in ours) == 2, messages
    for message in ours:  # a message holds takes asked one after the other
        first = ids.index(message[0])
        assert ids[first : first + len(message)] == message

    records = [await wait_finished(api, t) for t in ids]
    assert [r["status"] for r in records] == ["completed"] * 8
    assert [r["parameters"]["seed"] for r in records] == list(range(10, 18))
    assert all(r["attempts"] == 1 for r in records)
    # one warm process made them all, one after the other
    assert len({r["result"]["metadata"]["pid"] for r in records}) == 1

    takes = shot_takes(workspace, pid)
    assert [t["id"] for t in takes] == [r["takeId"] for r in records]
    assert [t["seed"] for t in takes] == list(range(10, 18))
    assert all(t["status"] == "completed" for t in takes)
    for take in takes:
        assert (workspace / "Projects" / pid / take["file"]).is_file()

    # every take was announced queued, then done, once
    success: list[str] = []
    while len(success) < 8:
        event = await socket.until("task_success", timeout=10)
        success.append(event["taskId"])
    assert sorted(success) == sorted(ids)
    queued = [
        e["taskId"]
        for e in socket.seen
        if e["type"] == "task_progress" and e["status"] == "pending"
    ]
    assert queued == ids

    # the history lists them newest first, the last asked the newest
    status, page = await api.call("GET", "tasks", params={"projectId": pid, "limit": "8"})
    assert status == 200 and [t["taskId"] for t in page["tasks"]] == ids[::-1]


async def test_a_take_of_a_message_cancelled_before_it_runs_never_runs(
    api: Api, workspace: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    ids = await submit_takes(api, pid, shot, 8, seconds=0.3)
    status, record = await api.call("POST", f"tasks/{ids[-1]}/cancel")
    assert status == 200 and record["status"] == "cancelled", record
    records = [await wait_finished(api, t) for t in ids]
    assert [r["status"] for r in records] == ["completed"] * 7 + ["cancelled"]
    assert records[-1]["attempts"] == 0 and records[-1]["result"] is None
    takes = shot_takes(workspace, pid)
    assert [t["status"] for t in takes] == ["completed"] * 7 + ["cancelled"]


async def test_a_bad_count_is_refused_and_nothing_is_queued(
    api: Api, workspace: Path, redis_url: str
) -> None:
    pid, scene, [shot] = await make_shot(api)
    before = queued_messages(redis_url)

    async def refused(body: dict[str, Any], words: str) -> None:
        status, answer = await api.call(
            "POST",
            "tasks/submit",
            {"projectId": pid, "nodeId": shot, "pipeline": "batched", **body},
        )
        assert status == 400 and words in json.dumps(answer), answer

    await refused({"count": 0}, "count")
    await refused({"count": 65}, "max_takes_per_submit")
    await refused({"count": True}, "count")
    # the last take's seed would be past the pipeline's bounds
    await refused({"count": 4, "parameters": {"seed": 998}}, "must be \\u2264 1000")
    # an export is one file: one at a time
    status, answer = await api.call(
        "POST",
        "tasks/submit",
        {"projectId": pid, "nodeId": scene, "pipeline": "animatic", "count": 2},
    )
    assert status == 400 and "one at a time" in answer["error"]["message"], answer

    assert shot_takes(workspace, pid) == []
    status, page = await api.call("GET", "tasks", params={"projectId": pid})
    assert status == 200 and page["tasks"] == []
    assert queued_messages(redis_url) == before


async def test_several_takes_over_the_websocket_as_over_rest(
    api: Api, jp_ws_fetch: Any, workspace: Path
) -> None:
    pid, _, [shot] = await make_shot(api)
    socket = await open_socket(jp_ws_fetch, pid)
    message = {"type": "start_generation", "nodeId": shot, "nodeType": "batched"}
    socket.send({**message, "parameters": {"seed": 3}, "count": 3})
    done = [await socket.until("task_success", timeout=30) for _ in range(3)]
    assert sorted(event["result"]["takeId"] for event in done) == sorted(
        take["id"] for take in shot_takes(workspace, pid)
    )
    assert sorted(take["seed"] for take in shot_takes(workspace, pid)) == [3, 4, 5]
    # a bad count is said, and the socket lives
    socket.send({**message, "count": 0, "requestId": "r1"})
    error = await socket.until("error")
    assert error["code"] == "bad_message" and "count" in error["message"], error
    socket.send({"type": "ping", "time": 1.0})
    assert (await socket.until("pong"))["time"] == 1.0
    assert len(shot_takes(workspace, pid)) == 3
