"""The task side of the trash: deleted work stops generating; a project's records go with it.

A project's task list moves aside with the project (a new project of the same name starts with
no tasks) and comes back when the project is restored; its queued and running tasks are
cancelled. A deleted node's or take's generating tasks are cancelled too.
"""

from __future__ import annotations

import logging

from ..core.errors import StudioError
from ..models import TrashRecord
from .context import TaskContext
from .service import cancel_task

log = logging.getLogger(__name__)


class TaskTrashKeeper:
    """Listens to the workspace trash on behalf of the task records in Redis."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx

    def trashed(self, item: TrashRecord) -> None:
        """Cancel what still generates inside the item; move a project's task list aside."""
        records = self.ctx.records
        if item.kind == "project":
            unfinished = [
                r.task_id
                for r in records.for_project(item.project_id, limit=10_000)
                if not r.status.finished
            ]
            self._cancel(unfinished)
            records.stash_project(item.project_id, item.id)
        else:
            self._cancel(item.task_ids)

    def restored(self, item: TrashRecord) -> None:
        """A restored project finds its task list again."""
        if item.kind == "project":
            self.ctx.records.unstash_project(item.id, item.project_id)

    def erased(self, item: TrashRecord) -> None:
        """A project erased for good takes its task records along."""
        if item.kind == "project":
            self.ctx.records.drop_stash(item.id)

    def _cancel(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            try:
                cancel_task(self.ctx, task_id)
            except StudioError as exc:  # ended meanwhile, or its record expired
                log.info("task %s not cancelled: %s", task_id, exc.message)
