"""Exceptions a notebook user sees: each says what went wrong and what to do."""

from __future__ import annotations

from ..core.errors import StudioError


class NoWorkerRunning(StudioError):
    """Tasks were asked for, but no Celery worker serves this workspace."""

    code = "no_worker"
    status = 503


class TaskError(StudioError):
    """A generation task failed; the message is the pipeline's own."""

    code = "task_failed"

    def __init__(self, message: str, task_id: str) -> None:
        super().__init__(message, {"taskId": task_id})
        self.task_id = task_id


class TaskCancelled(TaskError):
    """The task was cancelled (from the notebook, a panel, or the API)."""

    code = "task_cancelled"
