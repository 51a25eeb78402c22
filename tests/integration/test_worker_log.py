"""A worker's log: Celery's line per task received and ended only when asked for."""

from __future__ import annotations

from pathlib import Path

from gms_lab.models import TaskStatus, TaskSubmit
from tests.services import (
    TINY_STILL,
    Worker,
    project_with_shot,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)


def test_a_worker_logs_a_line_per_task_only_with_worker_log_tasks(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis") as url:
        for asked in (False, True):
            config = studio_config(
                tmp_path / f"ws-{asked}", auto_commit=False, worker_log_tasks=asked
            )
            service = task_service(config, url)
            ctx = service.ctx
            project_id, shot = project_with_shot(ctx.core, "Logged")
            log = tmp_path / f"worker-{asked}.log"
            worker = Worker(config, url, log).start()
            try:
                record = service.submit(
                    TaskSubmit(
                        project_id=project_id, node_id=shot, pipeline="still", parameters=TINY_STILL
                    )
                )
                wait_until(lambda r=record, c=ctx: c.records.get(r.task_id).status.finished, 60)
            finally:
                worker.stop()
            assert ctx.records.get(record.task_id).status == TaskStatus.completed
            text = log.read_text(errors="replace")
            # the worker's other INFO lines are there either way
            assert " ready." in text, text[-3000:]
            told = [line for line in text.splitlines() if record.task_id in line]
            if asked:
                assert any("received" in line for line in told), text[-3000:]
                assert any("succeeded in" in line for line in told), text[-3000:]
            else:
                assert told == [], told
