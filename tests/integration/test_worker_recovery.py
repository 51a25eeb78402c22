"""A worker killed mid-task: after a restart the task completes once and its take is filed once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from gms_lab.core import hierarchy
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.events import channel
from gms_lab.models import NodeCreate, ProjectCreate, TaskStatus, TaskSubmit
from gms_lab.tasks.celery_app import make_celery, visibility_timeout
from gms_lab.tasks.context import TaskContext
from gms_lab.tasks.service import TaskService
from tests.services import Worker, redis_server, studio_config, wait_until


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of this module's own, so no other worker can pick the task up."""
    with redis_server(tmp_path_factory.mktemp("recovery-redis")) as url:
        yield url


def test_killed_worker_task_is_redelivered_and_completes_once(
    own_redis: str, tmp_path: Path
) -> None:
    config = studio_config(tmp_path / "ws")
    ctx = TaskContext(config, url=own_redis)
    celery = make_celery(config, own_redis)
    service = TaskService(ctx, lambda name, tid, kw: celery.send_task(name, kwargs=kw, task_id=tid))
    # the visibility timeout stays long (longer than any pipeline): recovery must not wait for it
    assert visibility_timeout(config) >= 3600

    ctx.core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR)

    def build(p: Any) -> str:
        ch = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
        sc = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="B")).node.id
        return hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="C")).node.id

    _, shot = ctx.core.manifests.update("harbour", build)
    events = redis.Redis.from_url(own_redis).pubsub()
    events.subscribe(channel("harbour"))

    first = Worker(config, own_redis, tmp_path / "worker-a.log").start()
    record = service.submit(
        TaskSubmit(project_id="harbour", node_id=shot, pipeline="slow", parameters={"seconds": 4})
    )
    task_id = record.task_id
    wait_until(lambda: ctx.records.get(task_id).progress >= 0.2, 30)
    first.kill()
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
    assert [e["taskId"] for e in successes] == [task_id]
