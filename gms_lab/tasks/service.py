"""Submitting, cancelling and reading tasks: one path for REST, WebSocket and the notebook."""

from __future__ import annotations

import contextlib
import functools
import math
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.client import Pipeline

from ..core import assets, exports, hierarchy, library, limits, takes
from ..core.errors import Conflict, InvalidInput, NotFound
from ..core.files import media_kind
from ..core.manifest import Unchanged
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
from .registry import PipelineRegistry, PipelineSpec
from .sends import SharedSends
from .undo import Undo

EXECUTE = "gms.execute_generation"
#: One message for several quick takes of one submit (a pipeline's `takes_per_message`).
EXECUTE_TAKES = "gms.execute_takes"
#: Sends a Celery task: (task name, task id, keyword arguments).
Send = Callable[[str, str, dict[str, Any]], None]


class TaskService:
    """Validates a request, records the task, announces it, and hands it to the workers."""

    def __init__(self, ctx: TaskContext, send: Send) -> None:
        self.ctx = ctx
        self.send = send
        #: Quick takes queued at the same moment share a message (see `SharedSends`).
        self.shared = SharedSends()
        #: What a refused submit may have left in Redis, undone once Redis answers.
        self.undo = Undo()

    @needs_broker
    def submit(self, request: TaskSubmit, author: dict[str, str] | None = None) -> TaskRecord:
        """Queue a generation, all or nothing; errors in the request come before any write.
        With `request.count` several takes are queued: this is the first (see `submit_all`)."""
        return self.submit_all(request, author)[0]

    @needs_broker
    def submit_all(
        self, request: TaskSubmit, author: dict[str, str] | None = None
    ) -> list[TaskRecord]:
        """Queue `request.count` generations (one unless asked for more), all or nothing: each
        take is a task of its own (its own record, events, cancel); the seed goes up by one
        from the one given, or each is drawn at random. Errors come before any write."""
        ctx = self.ctx
        spec = ctx.registry.require_available(request.pipeline)
        count = request.count
        if count > 1 and spec.produces != "take":
            raise InvalidInput(
                f"Pipeline {spec.id!r} makes no takes: it is queued one at a time (count 1).",
                {"count": count, "pipeline": spec.id},
            )
        most = ctx.config.max_takes_per_submit
        if count > most:
            raise InvalidInput(
                f"A submit makes at most {most} takes (the setting max_takes_per_submit), "
                f"not {count}.",
                {"count": count, "max": most},
            )
        # a take being queued is announced to the project's writer, so the takes that clients
        # queue at the same moment share a write (see `ManifestStore.coming`)
        with (
            ctx.core.manifests.coming(request.project_id)
            if spec.produces == "take"
            else contextlib.nullcontext()
        ):
            return self._submit_all(request, author, spec, count)

    def _submit_all(
        self, request: TaskSubmit, author: dict[str, str] | None, spec: PipelineSpec, count: int
    ) -> list[TaskRecord]:
        ctx = self.ctx
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
        seeds = _seeds(spec, parameters.get("seed"), count)
        if seeds:
            parameters["seed"] = seeds[0]
        if spec.produces == "export":
            root = ctx.core.projects.path(project.id)
            extra = exports.job_parameters(project, root, spec.id, request.node_id, parameters)
            parameters = {**extra, **parameters}
        elif spec.produces == "thumbnail":
            parameters, target = self._thumbnail(project, request.node_id, parameters)
        else:
            shot = takes.shot_of(project, request.node_id)
            references = takes.usable_references(shot, ctx.core.projects.path(project.id))
            parameters = takes.shot_parameters(shot, parameters, set(spec.parameters), references)
            style = shot.style
        # a bad parameter (or template) is a 400 now, not a failed take
        resolved = spec.resolve(project.quality, parameters)
        if seeds[1:]:  # the last seed is within the parameter's bounds too
            spec.parameters["seed"].check("seed", seeds[-1])
        if spec.templates == "comfyui":
            root = ctx.core.projects.path(project.id)
            allowed = set(spec.parameters) - {"template"}
            block = ctx.core.workflows.prepare(resolved, project.quality, root, allowed, "")
            # the take names its template: the one its tier picks today
            parameters["template"] = block["template"]["name"]
        # the takes' ids are chosen now: the tasks are queued before their takes are written
        take_ids = (
            hierarchy.new_ids(project, "take", count, shared=True)
            if spec.produces == "take"
            else [None] * count
        )
        queued = [
            TaskRecord(
                task_id=uuid.uuid4().hex,
                project_id=project.id,
                node_id=request.node_id,
                pipeline=spec.id,
                parameters={**parameters, "seed": seeds[i]} if seeds else dict(parameters),
                tier=project.quality.value,
                take_id=take_ids[i],
                author=author,
                target=target,
                style=style,
                references=references,
            )
            for i in range(count)
        ]
        # Redis down: a 503 here, before anything is written; clients hear of each task queued
        # before any worker can tell them more
        try:
            ctx.records.create_all(
                queued, channel(project.id), [encode(progress_of(r)) for r in queued]
            )
        except BaseException:
            # Redis may have stored them all the same (it hung, or died having written them)
            self._forget_later(queued)
            raise
        self._queue(spec, queued)
        if spec.produces != "take":
            return queued
        # The takes are written while workers take the tasks up (the write is most of a
        # submit's time). A task that ends before this write files its take itself; a write
        # that fails gives the tasks up before they can complete (see `_give_up`).
        try:
            ctx.core.manifests.update(
                project.id,
                lambda p: _add_takes(p, request.node_id, spec.id, queued),
                coalesce=True,
                lazy=True,
            )
        except BaseException as exc:
            return self._give_up(queued, exc)

        # the takes are written: no finisher adds them again (should they be deleted meanwhile);
        # no one waits for this mark (a finisher finds its take in the manifest first)
        def written(pipe: Pipeline) -> None:
            for record in queued:
                ctx.records.settle_filing_with(pipe, record.task_id, WRITTEN)

        ctx.publisher.later(written)
        return queued

    def _queue(self, spec: PipelineSpec, made: list[TaskRecord]) -> None:
        """Hand the tasks to the workers: a task per message, or for a pipeline of quick takes
        up to `takes_per_message` of them; all or nothing (none runs if one could not be sent)."""
        most = spec.takes_per_message
        chunks = _chunks(made, most, self.ctx.config.worker_concurrency)
        sent: list[TaskRecord] = []
        try:
            for chunk in chunks:
                # a send that fails may have reached Redis all the same (its answer was lost:
                # Redis hung, or died having written it), so its tasks count as sent
                sent.extend(chunk)
                if len(chunk) == 1 and most > 1:
                    # a quick take alone: with others queued at the same moment if any
                    first = chunk[0]
                    key = (spec.id, first.project_id, first.node_id)
                    self.shared.send(key, first, most, lambda batch: self._message(spec, batch))
                else:
                    self._message(spec, chunk)
        except BaseException:
            # all or nothing: the tasks that may be queued are given up before they can run,
            # and no record stays of a task that was never queued (both once Redis answers)
            self._abandon_later(sent, "Cancelled: it could not be queued.")
            unsent = made[len(sent) :]
            self._forget_later(unsent)
            for record in unsent:
                self.ctx.publisher.publish(
                    record.project_id,
                    TaskFailed(
                        task_id=record.task_id,
                        node_id=record.node_id,
                        error="The task could not be queued.",
                        seq=record.seq + 1,
                        cancelled=True,
                    ),
                )
            raise

    def _forget_later(self, made: list[TaskRecord]) -> None:
        """Forget the records of tasks never queued, now or once Redis answers again."""
        if made:
            records = self.ctx.records
            ids = ", ".join(r.task_id for r in made)
            self.undo.later(
                f"the records of tasks never queued ({ids})", lambda: records.discard_all(made)
            )

    def _abandon_later(self, made: list[TaskRecord], message: str) -> None:
        """`_abandon` each task of `made`, now or once Redis answers again."""
        for record in made:
            self.undo.later(
                f"task {record.task_id}, refused", functools.partial(self._abandon, record, message)
            )

    def _message(self, spec: PipelineSpec, chunk: list[TaskRecord]) -> None:
        """Send one message for the tasks of `chunk` (of one shot)."""
        first = chunk[0]
        if len(chunk) == 1:
            kwargs: dict[str, Any] = {
                "task_id": first.task_id,
                "project_id": first.project_id,
                "node_id": first.node_id,
                "pipeline": spec.id,
                "parameters": first.parameters,
            }
            self.send(EXECUTE, first.task_id, kwargs)
        else:
            kwargs = {
                "task_ids": [r.task_id for r in chunk],
                "project_id": first.project_id,
                "node_id": first.node_id,
                "pipeline": spec.id,
            }
            self.send(EXECUTE_TAKES, uuid.uuid4().hex, kwargs)

    def _give_up(self, made: list[TaskRecord], error: BaseException) -> list[TaskRecord]:
        """The submit could not write its tasks' takes: cancel each task before it can complete
        (and re-raise `error`), unless all of them already ended and filed their takes
        themselves — then the submit went through after all and their records are the answer."""
        message = "Cancelled: its take could not be written."
        ended = []
        for i, record in enumerate(made):
            try:
                ended.append(self._abandon(record, message))
            except redis.RedisError:
                self._abandon_later(made[i:], message)
                raise error from None
        if all(record is not None for record in ended):
            return [record for record in ended if record is not None]
        raise error

    def _abandon(self, record: TaskRecord, message: str) -> TaskRecord | None:
        """Cancel a queued task before it can file a take; its record if it ended first and
        filed its take itself (None once it is given up)."""
        ctx = self.ctx
        if ctx.records.settle_filing(record.task_id, ABANDONED) != ABANDONED:
            return ctx.records.get(record.task_id)
        ctx.records.request_cancel(record.task_id)

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
        return None

    def _model(self, name: Any) -> str:
        """A model of the library by name (the first one when none is named), or a 400."""
        folder = self.ctx.core.workspace.models_dir
        if name:
            return library.model_named(folder, str(name))
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


def _chunks(made: list[TaskRecord], most: int, spread: int) -> list[list[TaskRecord]]:
    """The tasks in messages of at most `most` tasks, of even sizes, and at least `spread`
    messages while there are tasks enough (a few takes go to as many worker threads, not all
    to one; only a larger submit fills messages)."""
    messages = max(-(-len(made) // most), min(len(made), spread))
    size, extra = divmod(len(made), messages)
    chunks, start = [], 0
    for i in range(messages):
        end = start + size + (1 if i < extra else 0)
        chunks.append(made[start:end])
        start = end
    return chunks


def _seeds(spec: PipelineSpec, given: Any, count: int) -> list[Any]:
    """Each take's seed (none for a pipeline without one): up by one from the one given, or
    drawn at random."""
    seed = spec.parameters.get("seed")
    if seed is None:
        return []
    if given is None:  # within the parameter's bounds
        low = math.ceil(seed.minimum) if seed.minimum is not None else 0
        high = math.floor(seed.maximum) if seed.maximum is not None else 2**31 - 1
        return [low + secrets.randbelow(max(high - low, 0) + 1) for _ in range(count)]
    if count == 1 or isinstance(given, bool) or not isinstance(given, int):
        return [given] * count  # checked with the parameters (a non-integer is refused there)
    return [given + i for i in range(count)]


def _add_takes(project: Project, shot_id: str, pipeline: str, made: list[TaskRecord]) -> None:
    """Add the tasks' takes in state `generating`; a take its task filed already (it ended
    first) stays as it is. Nothing to write if every one was filed so."""
    added = 0
    for record in made:
        with contextlib.suppress(Unchanged):
            takes.add_generating(
                project,
                shot_id,
                pipeline=pipeline,
                parameters=record.parameters,
                seed=record.parameters.get("seed"),
                task_id=record.task_id,
                tier=project.quality.value,
                take_id=record.take_id,
            )
            added += 1
    if not added:
        raise Unchanged(None)


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


def take_to_file(
    ctx: TaskContext, record: TaskRecord, project: Project | None = None
) -> takes.MissingTake | None:
    """What the one who ends a task (its worker, a cancel) needs to file the outcome on its
    take: None when the submit wrote the take (it is in the manifest, or was removed since);
    the take to add when the task ended before the submit wrote it; `TakeAbandoned` when the
    submit gave the task up. `NotFound` when the shot is gone. `project`: the manifest as the
    caller just read it."""
    assert record.take_id is not None
    if project is None:
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
            lambda p: takes.fail(p, take_id, error, missing, cancelled, record.node_id),
            coalesce=True,
            lazy=True,
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
