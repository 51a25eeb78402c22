"""A take whose task Redis lost ends (when the server starts, or when Redis comes back to a
running server without its data): it does not stay generating for good.

Redis keeps its writes with `appendfsync everysec`: a crash of the machine can take the last
second with it, a task's record among them, after its take was written into `project.json`.
No worker could end that take (a task without a record is dropped), and the lab showed it
generating for good.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import redis
import requests

from gms_lab.core.services import StudioCore
from gms_lab.events import channel
from gms_lab.models import TaskStatus, TaskSubmit
from gms_lab.tasks.lost import LOST
from gms_lab.tasks.records import TASK_KEY, finish
from tests.services import (
    ServerProcess,
    Worker,
    project_with_shot,
    redis_process,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)

TINY = {"prompt": "a harbour at dusk", "width": 16, "height": 16, "steps": 1}


def _takes(server: ServerProcess, project_id: str) -> dict[str, tuple[str, str | None]]:
    """Each take of the project as the API answers it: (status, error)."""
    answer = requests.get(server.api(f"projects/{project_id}"), headers=server.headers, timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        take["id"]: (take["status"], take.get("error"))
        for chapter in answer.json()["chapters"]
        for scene in chapter["scenes"]
        for shot in scene["shots"]
        for take in shot["takes"]
    }


def _heard(messages: list[dict[str, Any]]) -> dict[str, str]:
    """The takes' states the project's channel told of: take id -> status."""
    told = {}
    for message in messages:
        if message["type"] != "message":
            continue
        event = json.loads(message["data"])
        if event["type"] == "node_state_updated":
            told[event["nodeId"]] = event["state"]["status"]
    return told


def test_takes_whose_tasks_cannot_end_them_end_when_the_server_starts(tmp_path: Path) -> None:
    # a Redis of its own: the session's worker (another workspace) must not take these tasks
    with redis_server(tmp_path / "redis") as redis_url:
        _check_lost_takes(redis_url, tmp_path)


def _check_lost_takes(redis_url: str, tmp_path: Path) -> None:
    config = studio_config(tmp_path / "ws", broker_url=redis_url, auto_commit=False)
    service = task_service(config, redis_url)
    ctx = service.ctx
    project, shot = project_with_shot(ctx.core, "Lost")
    # no worker yet: the three takes are generating, their tasks queued
    lost, kept = service.submit_all(
        TaskSubmit(project_id=project, node_id=shot, pipeline="still", parameters=TINY, count=2)
    )
    failed = service.submit(
        TaskSubmit(project_id=project, node_id=shot, pipeline="still", parameters=TINY)
    )
    # Redis lost one task's record (the last second before a crash)
    ctx.redis.delete(TASK_KEY + lost.task_id)
    # another task failed, and the manifest write of its take's failure never happened
    ctx.records.update(
        failed.task_id, lambda r: finish(r, TaskStatus.error, error="The pipeline said no.")
    )
    assert lost.take_id and kept.take_id and failed.take_id

    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(channel(project))
    server = ServerProcess(config, tmp_path / "server.log").start()
    try:
        wait_until(lambda: _takes(server, project)[lost.take_id][0] == "error", 30, 0.1)
        wait_until(lambda: _takes(server, project)[failed.take_id][0] == "error", 30, 0.1)
        now = _takes(server, project)
        assert now[lost.take_id] == ("error", LOST)
        assert now[failed.take_id] == ("error", "The pipeline said no.")
        # its record is there: a worker will run it
        assert now[kept.take_id] == ("generating", None)
        messages = []
        while (message := listener.get_message(timeout=1)) is not None:
            messages.append(message)
        told = _heard(messages)
        assert told == {lost.take_id: "error", failed.take_id: "error"}, told
        assert "2 take(s) of lost tasks ended" in server.log.read_text()

        # a worker runs the task that still can run; the lost one's message changes nothing
        worker = Worker(config, redis_url, tmp_path / "worker.log").start()
        try:
            wait_until(lambda: _takes(server, project)[kept.take_id][0] == "completed", 60, 0.1)
            wait_until(lambda: ctx.redis.llen("gms") == 0, 30, 0.1)
            assert _takes(server, project)[lost.take_id] == ("error", LOST)
        finally:
            worker.stop()
    finally:
        server.stop()
        listener.close()

    # started again: nothing more to settle, nothing written
    version = ctx.core.manifests.read(project).version
    again = ServerProcess(config, tmp_path / "server-again.log").start()
    try:
        wait_until(lambda: "0 take(s) of lost tasks ended" in again.log.read_text(), 30, 0.1)
        assert _takes(again, project)[lost.take_id] == ("error", LOST)
        assert ctx.core.manifests.read(project).version == version
    finally:
        again.stop()


def test_takes_whose_tasks_redis_lost_end_when_it_comes_back_to_a_running_server(
    tmp_path: Path,
) -> None:
    """Redis comes back empty under a running server (a compose Redis recreated without its
    volume): the takes its lost tasks left generating end then, not at the server's next start;
    a take submitted after it came back is left to its worker."""
    with redis_process(tmp_path / "redis") as own:
        config = studio_config(tmp_path / "ws", broker_url=own.url, auto_commit=False)
        server = ServerProcess(config, tmp_path / "server.log").start()
        try:
            http = requests.Session()
            http.headers.update(server.headers)
            project, shot = project_with_shot(StudioCore(config), "Reset")
            submit = {"projectId": project, "nodeId": shot, "pipeline": "still", "parameters": TINY}

            def take_of(answer: requests.Response) -> str:
                assert answer.status_code == 202, answer.text
                task = answer.json()["taskId"]
                record = http.get(server.api(f"tasks/{task}/status"), timeout=10).json()
                return str(record["takeId"])

            # no worker: the take stays generating, its task queued
            before = take_of(http.post(server.api("tasks/submit"), json=submit, timeout=10))
            wait_until(lambda: "0 take(s) of lost tasks ended" in server.log.read_text(), 30)
            own.kill()
            shutil.rmtree(own.folder)  # its data is gone
            own.start()
            wait_until(lambda: _takes(server, project)[before][0] == "error", 30, 0.1)
            assert _takes(server, project)[before] == ("error", LOST)
            assert "1 take(s) of lost tasks ended" in server.log.read_text()

            # the studio works on: a new take is made by a worker
            after = take_of(http.post(server.api("tasks/submit"), json=submit, timeout=10))
            worker = Worker(config, own.url, tmp_path / "worker.log").start()
            try:
                wait_until(lambda: _takes(server, project)[after][0] == "completed", 60, 0.1)
            finally:
                worker.stop()
            assert _takes(server, project)[before] == ("error", LOST)
        finally:
            server.stop()
