"""Tasks end, whatever happens after they start: a failure is an error with a clear message."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from gms_lab.core.errors import NotFound
from gms_lab.core.files import atomic_write
from gms_lab.models import TaskRecord, TaskStatus, TaskSubmit
from gms_lab.tasks.context import TaskContext
from gms_lab.tasks.records import FILING_KEY, FINISHER
from gms_lab.tasks.service import TaskService
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
    """A Redis of this module's own: tasks wait in its queue until this module's worker runs."""
    with redis_server(tmp_path_factory.mktemp("failures-redis")) as url:
        yield url


def test_a_task_whose_project_is_gone_ends_failed_without_server_paths(
    own_redis: str, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    config = studio_config(workspace)
    service = task_service(config, own_redis)
    ctx = service.ctx
    project_id, shot = project_with_shot(ctx.core, "Vanishing")
    record = service.submit(
        TaskSubmit(project_id=project_id, node_id=shot, pipeline="slow", parameters={})
    )
    # the project disappears (another machine, a shell) while its task waits in the queue
    shutil.rmtree(ctx.core.projects.path(project_id))

    worker = Worker(config, own_redis, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: ctx.records.get(record.task_id).status.finished, 30)
    finally:
        worker.stop()
    final = ctx.records.get(record.task_id)
    assert final.status == TaskStatus.error, final
    assert f"project {project_id!r} no longer exists" in str(final.error)
    assert str(workspace) not in str(final.error) and "/" not in str(final.error)


# -- the submit's window: the task is queued first, its take written while a worker takes it up


def _submit_in_background(service: TaskService, request: TaskSubmit) -> tuple[Thread, list[Any]]:
    """`service.submit(request)` in a thread: (the thread, [its answer or its error])."""
    answer: list[Any] = []

    def submit() -> None:
        try:
            answer.append(service.submit(request))
        except Exception as exc:
            answer.append(exc)

    thread = Thread(target=submit)
    thread.start()
    return thread, answer


def _task_of(ctx: TaskContext, project_id: str) -> TaskRecord | None:
    tasks = ctx.records.for_project(project_id, 5)
    return tasks[0] if tasks else None


def _takes_of(root: Path) -> list[dict[str, Any]]:
    """Every take in the project's manifest as it is on disk."""
    manifest = json.loads((root / "project.json").read_text())
    return [
        take
        for chapter in manifest["chapters"]
        for scene in chapter["scenes"]
        for shot in scene["shots"]
        for take in shot["takes"]
    ]


def test_a_take_that_cannot_be_written_cancels_its_queued_task_and_nothing_remains(
    own_redis: str, tmp_path: Path
) -> None:
    """The submit queues the task, then cannot write its take (the shot was deleted meanwhile):
    the task is cancelled before it can complete, the submit fails, and no take appears."""
    config = studio_config(tmp_path / "ws")
    service = task_service(config, own_redis)
    ctx = service.ctx
    project_id, shot = project_with_shot(ctx.core, "Window")
    root = ctx.core.projects.path(project_id)
    worker = Worker(config, own_redis, tmp_path / "worker.log").start()
    try:
        request = TaskSubmit(
            project_id=project_id,
            node_id=shot,
            pipeline="paced",
            parameters={"steps": 200, "pause": 0.05},
        )
        # another writer holds the project: the submit queues its task and waits to write
        with ctx.core.manifests.lock(project_id):
            thread, answer = _submit_in_background(service, request)
            wait_until(
                lambda: (
                    (task := _task_of(ctx, project_id)) is not None
                    and task.status == TaskStatus.running
                ),
                30,
                0.01,
            )
            # ... and deletes the shot meanwhile (its own write, under the lock it holds)
            manifest = json.loads((root / "project.json").read_text())
            manifest["chapters"][0]["scenes"][0]["shots"] = []
            manifest["version"] += 1
            atomic_write(root / "project.json", json.dumps(manifest, indent=2).encode())
        thread.join(timeout=30)
        assert len(answer) == 1 and isinstance(answer[0], NotFound), answer
        task = _task_of(ctx, project_id)
        assert task is not None
        # the worker stops the task (and clears its job folder); the submit's end stands
        job = root / "03_Renders" / ".jobs" / task.task_id
        wait_until(lambda: not job.exists(), 30, 0.05)
        final = ctx.records.get(task.task_id)
        assert final.status == TaskStatus.cancelled, final
        assert "could not be written" in str(final.error)
        assert _takes_of(root) == []
        renders = root / "03_Renders"
        assert not [p for p in renders.rglob("*") if p.is_file() and not p.name.startswith(".")]
    finally:
        worker.stop()
    figures.count("faults injected")


def test_a_task_that_ends_before_its_take_is_written_files_the_take_itself(
    own_redis: str, tmp_path: Path
) -> None:
    """The task is done before the submit could write its take: the take is filed once,
    completed, whoever of the two writes first."""
    config = studio_config(tmp_path / "ws")
    service = task_service(config, own_redis)
    ctx = service.ctx
    project_id, shot = project_with_shot(ctx.core, "Quick")
    root = ctx.core.projects.path(project_id)
    worker = Worker(config, own_redis, tmp_path / "worker.log").start()
    try:
        request = TaskSubmit(
            project_id=project_id,
            node_id=shot,
            pipeline="still",
            parameters={"width": 16, "height": 16, "steps": 1},
        )
        with ctx.core.manifests.lock(project_id):
            thread, answer = _submit_in_background(service, request)
            # the worker made the frame and claimed the filing: it waits for the lock too
            wait_until(
                lambda: (
                    (task := _task_of(ctx, project_id)) is not None
                    and ctx.redis.get(FILING_KEY + task.task_id) == FINISHER.encode()
                ),
                30,
                0.01,
            )
        thread.join(timeout=30)
        assert len(answer) == 1 and isinstance(answer[0], TaskRecord), answer
        task_id = answer[0].task_id
        wait_until(lambda: ctx.records.get(task_id).status.finished, 30, 0.02)
        final = ctx.records.get(task_id)
        assert final.status == TaskStatus.completed, final
        filed = _takes_of(root)
        assert [t["id"] for t in filed] == [final.take_id]
        take = filed[0]
        assert take["status"] == "completed" and take["taskId"] == task_id
        assert (root / take["file"]).is_file() and (root / take["thumbnail"]).is_file()
    finally:
        worker.stop()
