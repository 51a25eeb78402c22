"""Submitting, cancelling and reading tasks: one path for REST, WebSocket and the notebook."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core import assets, exports, hierarchy, library, limits, takes
from ..core.errors import Conflict, InvalidInput, NotFound
from ..core.files import media_kind
from ..core.paths import resolve_inside
from ..core.services import StudioCore
from ..core.workflows import TemplateList
from ..events import TaskFailed, channel, encode, progress_of
from ..models import (
    ExportRequest,
    Project,
    Take,
    TaskList,
    TaskRecord,
    TaskStatus,
    TaskSubmit,
    utcnow,
)
from .context import TaskContext, needs_broker
from .records import ABANDONED, FINISHER, WRITTEN, RecordUnchanged, finish
from .registry import PipelineRegistry

EXECUTE = "gms.execute_generation"
#: Sends a Celery task: (task name, task id, keyword arguments).
Send = Callable[[str, str, dict[str, Any]], None]


class TaskService:
    """Validates a request, records the task, announces it, and hands it to the workers."""

    def __init__(self, ctx: TaskContext, send: Send) -> None:
        self.ctx = ctx
        self.send = send

    @needs_broker
    def submit(self, request: TaskSubmit, author: dict[str, str] | None = None) -> TaskRecord:
        """Queue a generation, all or nothing; errors in the request come before any write."""
        ctx = self.ctx
        spec = ctx.registry.require_available(request.pipeline)
        # checked against the manifest as last seen here (the take's write reads it afresh,
        # and gives the task up if the shot is gone by then)
        project = ctx.core.manifests.recent(request.project_id)
        # the user's own values first: within the JSON limits, of the types the pipeline takes
        limits.check(request.parameters, ctx.core.limits, "The parameters", measure=True)
        spec.resolve(project.quality, request.parameters)
        parameters = dict(request.parameters)
        for name in spec.model_parameters():
            parameters[name] = self._model(parameters.get(name) or spec.parameters[name].default)
        target = None
        style, references = "", []
        if "seed" in spec.parameters and parameters.get("seed") is None:
            parameters["seed"] = secrets.randbelow(2**31)
        if spec.produces == "export":
            root = ctx.core.projects.path(project.id)
            made = exports.job_parameters(project, root, spec.id, request.node_id, parameters)
            parameters = {**made, **parameters}
        elif spec.produces == "thumbnail":
            parameters, target = self._thumbnail(project, request.node_id, parameters)
        else:
            shot = takes.shot_of(project, request.node_id)
            references = takes.usable_references(shot, ctx.core.projects.path(project.id))
            parameters = takes.shot_parameters(shot, parameters, set(spec.parameters), references)
            style = shot.style
        # a bad parameter (or template) is a 400 now, not a failed take
        resolved = spec.resolve(project.quality, parameters)
        if spec.templates == "comfyui":
            root = ctx.core.projects.path(project.id)
            allowed = set(spec.parameters) - {"template"}
            block = ctx.core.workflows.prepare(resolved, project.quality, root, allowed, "")
            # the take names its template: the one its tier picks today
            parameters["template"] = block["template"]["name"]
        task_id = uuid.uuid4().hex
        # the take's id is chosen now: the task is queued before its take is written
        take_id = hierarchy.new_id(project, "take") if spec.produces == "take" else None
        record = TaskRecord(
            task_id=task_id,
            project_id=project.id,
            node_id=request.node_id,
            pipeline=spec.id,
            parameters=parameters,
            tier=project.quality.value,
            take_id=take_id,
            author=author,
            target=target,
            style=style,
            references=references,
        )
        # Redis down: a 503 here, before anything is written; clients hear of the task queued
        # before any worker can tell them more
        ctx.records.create(record, announce=(channel(project.id), encode(progress_of(record))))
        try:
            self.send(
                EXECUTE,
                task_id,
                {
                    "task_id": task_id,
                    "project_id": project.id,
                    "node_id": request.node_id,
                    "pipeline": spec.id,
                    "parameters": parameters,
                },
            )
        except BaseException:
            # all or nothing: no record of a task that was never queued
            with contextlib.suppress(Exception):
                ctx.records.discard(record)
            ctx.publisher.publish(
                record.project_id,
                TaskFailed(
                    task_id=task_id,
                    node_id=record.node_id,
                    error="The task could not be queued.",
                    seq=record.seq + 1,
                    cancelled=True,
                ),
            )
            raise
        if take_id is not None:
            # The take is written while a worker takes the task up (the write is most of a
            # submit's time). A task that ends before this write files its take itself; a write
            # that fails gives the task up before it can complete (see `_give_up`).
            try:
                ctx.core.manifests.update(
                    project.id,
                    lambda p: takes.add_generating(
                        p,
                        request.node_id,
                        pipeline=spec.id,
                        parameters=parameters,
                        seed=parameters.get("seed"),
                        task_id=task_id,
                        tier=p.quality.value,
                        take_id=take_id,
                    ),
                    coalesce=True,
                )
            except BaseException as exc:
                return self._give_up(record, exc)
            # the take is written: no finisher adds it again (should it be deleted meanwhile);
            # no one waits for this mark (a finisher finds the take in the manifest first)
            ctx.publisher.later(lambda pipe: ctx.records.settle_filing_with(pipe, task_id, WRITTEN))
        return record

    def _give_up(self, record: TaskRecord, error: BaseException) -> TaskRecord:
        """The submit could not write the task's take: cancel the task before it can complete
        (and re-raise `error`), unless it already ended and filed its take itself — then the
        submit went through after all and the task's record is the answer."""
        ctx = self.ctx
        if ctx.records.settle_filing(record.task_id, ABANDONED) != ABANDONED:
            # the task ended first and filed its take itself
            return ctx.records.get(record.task_id)
        ctx.records.request_cancel(record.task_id)
        message = "Cancelled: its take could not be written."

        def cancelled(r: TaskRecord) -> None:
            if r.status.finished:
                raise RecordUnchanged
            finish(r, TaskStatus.cancelled, error=message, step="", preview=None)

        final = ctx.records.update(record.task_id, cancelled)
        if final.status == TaskStatus.cancelled:
            ctx.publisher.publish(
                final.project_id,
                TaskFailed(
                    task_id=final.task_id,
                    node_id=final.node_id,
                    error=message,
                    seq=final.seq,
                    cancelled=True,
                ),
            )
        raise error

    def _model(self, name: Any) -> str:
        """A model of the library by name (the first one when none is named), or a 400."""
        folder = self.ctx.core.workspace.models_dir
        if name:
            return library.find_model(folder, str(name)).name
        models = library.list_models(folder)
        if not models:
            raise InvalidInput(
                f"No model in {folder} yet. Put a diffusers folder (with model_index.json) or a "
                ".safetensors checkpoint there (see the README, 'Models').",
                {"folder": str(folder)},
            )
        return models[0].name

    def export(
        self, project_id: str, request: ExportRequest, author: dict[str, str] | None = None
    ) -> TaskRecord:
        """Queue an export of a scope (a chapter, a scene, or None for the film)."""
        spec = exports.KINDS[request.kind]
        return self.submit(
            TaskSubmit(
                project_id=project_id,
                node_id=request.scope or project_id,
                pipeline=spec.pipeline,
                parameters=dict(spec.parameters),
            ),
            author,
        )

    def _thumbnail(
        self, project: Project, source: str, parameters: dict[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """The thumbnail's parameters, and where the thumbnail goes (by the file's version)."""
        root = self.ctx.core.projects.path(project.id)
        path = resolve_inside(root, source)
        if not path.is_file():
            raise NotFound(f"No file {source!r} in the project.", {"path": source})
        size = int(parameters.get("size") or self.ctx.config.thumbnail_size)
        target = assets.thumbnail_relpath(source, size, path.stat())
        return {**parameters, "source": source, "size": size}, target

    @needs_broker
    def request_thumbnail(
        self, project_id: str, relpath: str, author: dict[str, str] | None = None
    ) -> TaskRecord | None:
        """Queue a thumbnail of a media file unless one is cached or already on its way."""
        if media_kind(relpath) not in ("image", "video", "audio"):
            return None
        if "thumbnail" not in self.ctx.registry.pipelines:
            return None
        root = self.ctx.core.projects.path(project_id)
        path = resolve_inside(root, relpath)
        if not path.is_file():
            return None
        target = assets.thumbnail_relpath(relpath, self.ctx.config.thumbnail_size, path.stat())
        if (root / target).is_file():
            return None
        claim = f"gms:thumbnail:{project_id}:{target}"
        if not self.ctx.redis.set(claim, "1", nx=True, ex=120):
            return None
        request = TaskSubmit(project_id=project_id, node_id=relpath, pipeline="thumbnail")
        return self.submit(request, author)

    @needs_broker
    def get(self, task_id: str) -> TaskRecord:
        """A task's record."""
        return self.ctx.records.get(task_id)

    @needs_broker
    def list(self, project_id: str, limit: int = 100, cursor: str | None = None) -> TaskList:
        """One page of the project's tasks, newest first (never those of an older project of
        that id); `cursor` is the previous page's `nextCursor`, `more` says older ones exist."""
        project = self.ctx.core.projects.get(project_id)
        page = self.ctx.records.page(project_id, limit, cursor)
        kept = [r for r in page.tasks if r.created >= project.created]
        if len(kept) < len(page.tasks):  # the rest is older still
            page.more, page.next_cursor = False, None
        page.tasks = kept
        return page

    @needs_broker
    def templates(self, pipeline: str, project_id: str | None) -> TemplateList:
        """The workflow templates of a pipeline that runs templates (see `template_list`)."""
        return template_list(self.ctx.core, self.ctx.registry, pipeline, project_id)

    @needs_broker
    def cancel(self, task_id: str) -> TaskRecord:
        """Stop a task: a queued one is cancelled at once; a running one by its worker."""
        return cancel_task(self.ctx, task_id)


def cancel_task(ctx: TaskContext, task_id: str) -> TaskRecord:
    """Stop a task: a queued one is cancelled at once; a running one by its worker."""
    records = ctx.records
    record = records.get(task_id)
    if record.status.finished:
        raise Conflict(
            f"Task {task_id!r} has already ended ({record.status.value}).",
            {"status": record.status.value},
        )
    records.request_cancel(task_id)

    def cancel_if_pending(r: TaskRecord) -> None:
        if r.status != TaskStatus.pending:
            raise RecordUnchanged  # a running task is its worker's to end (and to write)
        finish(r, TaskStatus.cancelled, error="Cancelled before it started.", step="")

    record = records.update(task_id, cancel_if_pending)
    if record.status == TaskStatus.cancelled:
        mark_take_failed(ctx, record, "Cancelled.")
        ctx.publisher.publish(
            record.project_id,
            TaskFailed(
                task_id=task_id,
                node_id=record.node_id,
                error="Cancelled.",
                seq=record.seq,
                cancelled=True,
            ),
        )
    return record


class TakeAbandoned(Exception):
    """The submit could not write the task's take and gave the task up: no take may appear."""


def take_to_file(ctx: TaskContext, record: TaskRecord) -> takes.MissingTake | None:
    """What the one who ends a task (its worker, a cancel) needs to file the outcome on its
    take: None when the submit wrote the take (it is in the manifest, or was removed since);
    the take to add when the task ended before the submit wrote it; `TakeAbandoned` when the
    submit gave the task up. `NotFound` when the shot is gone."""
    assert record.take_id is not None
    project = ctx.core.manifests.read(record.project_id)
    if takes.in_shot(project, record.node_id, record.take_id):
        return None
    who = ctx.records.settle_filing(record.task_id, FINISHER)
    if who == ABANDONED:
        raise TakeAbandoned(record.task_id)
    if who != FINISHER:
        return None
    take = Take(
        id=record.take_id,
        pipeline=record.pipeline,
        parameters=record.parameters,
        seed=record.parameters.get("seed"),
        task_id=record.task_id,
        tier=record.tier,
        created=record.created,
    )
    return takes.MissingTake(take, record.node_id)


def mark_take_failed(ctx: TaskContext, record: TaskRecord, error: str) -> None:
    """Record the failure on the task's take, if it has one (and it still exists)."""
    if record.take_id is None:
        return
    take_id = record.take_id
    cancelled = record.status == TaskStatus.cancelled
    # the shot or take was removed meanwhile, or the submit gave the task up
    with contextlib.suppress(NotFound, TakeAbandoned):
        missing = take_to_file(ctx, record)
        ctx.core.manifests.update(
            record.project_id,
            lambda p: takes.fail(p, take_id, error, missing, cancelled),
            coalesce=True,
        )


def job_dir(root: Path, task_id: str) -> Path:
    """The folder a task's pipeline writes into (inside the project's renders, git-ignored)."""
    return root / takes.JOBS_DIR / task_id


def started_now(record: TaskRecord, runner_kind: str | None = None) -> None:
    """Mark a record running (helper for `TaskRecords.update`)."""
    record.status = TaskStatus.running
    record.started = record.started or utcnow()
    record.attempts += 1
    record.step = "starting"
    if runner_kind:
        record.runner = runner_kind


def template_list(
    core: StudioCore, registry: PipelineRegistry, pipeline: str, project_id: str | None
) -> TemplateList:
    """The templates a pipeline can run for a project (or the library's alone), each with the
    parameters it takes, and the one each tier picks."""
    spec = registry.get(pipeline)
    if spec.templates != "comfyui":
        raise NotFound(f"Pipeline {pipeline!r} takes no templates.", {"pipeline": pipeline})
    root = core.projects.path(project_id) if project_id else None
    return core.workflows.listing(root, set(spec.parameters) - {"template"})
