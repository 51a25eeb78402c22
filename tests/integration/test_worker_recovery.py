"""A worker killed mid-task: after a restart the task completes once and its take is filed once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gms_lab.config import StudioConfig
from gms_lab.events import channel
from gms_lab.models import TaskStatus, TaskSubmit
from gms_lab.tasks.celery_app import visibility_timeout
from gms_lab.tasks.context import TaskContext
from gms_lab.tasks.records import TASK_KEY
from tests import figures
from tests.services import (
    Worker,
    project_with_shot,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of this module's own, so no other worker can pick the task up."""
    with redis_server(tmp_path_factory.mktemp("recovery-redis")) as url:
        yield url


def test_killed_worker_task_is_redelivered_and_completes_once(
    own_redis: str, tmp_path: Path
) -> None:
    config = studio_config(tmp_path / "ws")
    service = task_service(config, own_redis)
    ctx = service.ctx
    # the visibility timeout stays long (longer than any pipeline): recovery must not wait for it
    assert visibility_timeout(config) >= 3600
    _, shot = project_with_shot(ctx.core, "Harbour")
    events = redis.Redis.from_url(own_redis).pubsub()
    events.subscribe(channel("harbour"))

    first = Worker(config, own_redis, tmp_path / "worker-a.log").start()
    record = service.submit(
        TaskSubmit(project_id="harbour", node_id=shot, pipeline="slow", parameters={"seconds": 4})
    )
    task_id = record.task_id
    wait_until(lambda: ctx.records.get(task_id).progress >= 0.2, 30)
    first.kill()
    figures.count("faults injected")
    killed = time.monotonic()
    assert ctx.records.get(task_id).status == TaskStatus.running

    second = Worker(config, own_redis, tmp_path / "worker-b.log").start()
    try:
        wait_until(lambda: ctx.records.get(task_id).attempts == 2, 60)
        redelivered = time.monotonic() - killed
        wait_until(lambda: ctx.records.get(task_id).status.finished, 60)
    finally:
        second.stop()
    final = ctx.records.get(task_id)
    assert final.status == TaskStatus.completed, final
    assert final.attempts == 2
    assert redelivered < 20, f"redelivered after {redelivered:.1f} s"
    print(
        f"\nredelivered {redelivered:.1f} s after kill -9 (visibility timeout "
        f"{visibility_timeout(config)} s)"
    )

    project = ctx.core.projects.get("harbour")
    [take] = project.chapters[0].scenes[0].shots[0].takes
    assert take.status == "completed" and take.id == final.take_id
    folder = ctx.core.projects.path("harbour") / "03_Renders"
    files = sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == [f"{take.id}.json", f"{take.id}.png"]

    successes = []
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        message = events.get_message(timeout=0.2)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
            if event["type"] == "task_success":
                successes.append(event)
    # exactly one success for the task (its take's thumbnail is a task of its own)
    assert [e["taskId"] for e in successes].count(task_id) == 1


def one_message_of_three_takes(
    url: str, folder: Path, name: str, parameters: dict[str, object]
) -> tuple[StudioConfig, TaskContext, str, list[str]]:
    """A film of one shot and a submit of three `batched` takes in one message (the studio's
    worker has one thread; `batched` takes up to 4 a message): settings, context, project and
    the tasks."""
    config = studio_config(folder, worker_concurrency=1)
    service = task_service(config, url)
    project, shot = project_with_shot(service.ctx.core, name)
    request = TaskSubmit(
        project_id=project, node_id=shot, pipeline="batched", parameters=parameters, count=3
    )
    return config, service.ctx, project, [r.task_id for r in service.submit_all(request)]


def test_a_killed_workers_message_of_several_takes_is_redelivered_and_each_runs_once(
    own_redis: str, tmp_path: Path
) -> None:
    config, ctx, project, ids = one_message_of_three_takes(
        own_redis, tmp_path / "ws", "Lighthouse", {"seconds": 2}
    )
    first = Worker(config, own_redis, tmp_path / "worker-a.log").start()
    wait_until(lambda: ctx.records.get(ids[1]).progress >= 0.2, 30)  # the second one runs
    first.kill()
    figures.count("faults injected")
    killed = time.monotonic()
    assert [ctx.records.get(t).status for t in ids] == [
        TaskStatus.completed,
        TaskStatus.running,
        TaskStatus.pending,
    ]

    second = Worker(config, own_redis, tmp_path / "worker-b.log").start()
    try:
        wait_until(lambda: ctx.records.get(ids[1]).attempts == 2, 60)
        redelivered = time.monotonic() - killed
        wait_until(lambda: all(ctx.records.get(t).status.finished for t in ids), 60)
    finally:
        second.stop()
    final = [ctx.records.get(t) for t in ids]
    assert [r.status for r in final] == [TaskStatus.completed] * 3, final
    # the one that ended is left as it is; the one cut off runs again; the last runs once
    assert [r.attempts for r in final] == [1, 2, 1]
    assert redelivered < 20, f"redelivered after {redelivered:.1f} s"

    takes = ctx.core.projects.get(project).chapters[0].scenes[0].shots[0].takes
    assert [t.id for t in takes] == [r.take_id for r in final]
    assert all(t.status == "completed" for t in takes)
    folder = ctx.core.projects.path(project) / "03_Renders"
    files = sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    assert files == sorted(f"{t.id}{suffix}" for t in takes for suffix in (".json", ".png"))


def test_a_take_that_cannot_run_does_not_strand_the_takes_after_it_in_its_message(
    own_redis: str, tmp_path: Path
) -> None:
    config, ctx, _, ids = one_message_of_three_takes(own_redis, tmp_path / "ws", "Breakwater", {})
    # the middle one's record is unreadable: its run fails before it can even start
    redis.Redis.from_url(own_redis).set(TASK_KEY + ids[1], b"{not json")
    worker = Worker(config, own_redis, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: ctx.records.get(ids[2]).status.finished, 60)
    finally:
        worker.stop()
    assert [ctx.records.get(t).status for t in (ids[0], ids[2])] == [TaskStatus.completed] * 2
    assert "could not be run" in (tmp_path / "worker.log").read_text()
