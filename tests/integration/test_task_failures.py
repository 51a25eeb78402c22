"""Tasks end, whatever happens after they start: a failure is an error with a clear message."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gms_lab.models import TaskStatus, TaskSubmit
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
