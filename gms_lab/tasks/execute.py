"""What a worker does with a task: run the pipeline, relay progress, file the take, announce it.

Life cycle of `execute_generation`: before_start (record running, heartbeat) → execute (the
runner) → on_complete (files placed, sidecar, manifest, events, auto-commit) or on_failure.
Safe to run twice for one task (a redelivery after a worker died): a finished record is left
alone and the take is the one created at submit time, so it is registered once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ..core import assets, exports, takes
from ..core.errors import ProjectNotFound, StudioError
from ..core.files import (
    SpareFolders,
    atomic_write,
    fsync_dir,
    fsync_path,
    making_folder,
    media_kind,
)
from ..core.paths import public_text
from ..core.projects import EXPORTS, RENDERS
from ..events import (
    AssetAdded,
    NodeStateUpdated,
    TaskFailed,
    TaskSuccess,
    channel,
    encode,
    progress_of,
)
from ..models import CamelModel, Quality, TaskRecord, TaskResult, TaskStatus, utcnow
from .context import TaskContext
from .records import RecordUnchanged, finish
from .registry import PipelineSpec, TierSpec
from .runners.base import Job, JobCancelled, JobOutcome, PipelineFailure
from .runners.runner import Runner
from .service import TakeAbandoned, job_dir, mark_take_failed, started_now, take_to_file

log = logging.getLogger(__name__)
#: Progress events of one step closer together than this are merged (the last one always goes
#: out); a new step or a new preview is always sent.
PROGRESS_EVERY = 0.05
#: The record of a running task is written at most this often for its progress (the events
#: carry every step at once); a new preview is written at once.
RECORD_EVERY = 0.25
#: How many previews of a running task stay on disk (a client may still be fetching the last).
PREVIEWS_KEPT = 3
#: Seconds a task's previews stay once it ended: a client told of the last one just before may
#: still be fetching it (the take's own event replaces it soon after).
PREVIEWS_LINGER = 10.0


#: How often a running task asks Redis whether it was cancelled (a round trip each time).
CANCEL_CHECK_EVERY = 0.2


def _at_most_every(
    seconds: float, check: Callable[[], bool], known: bool | None = None
) -> Callable[[], bool]:
    """`check`, asked at most every `seconds` (the last answer in between; a yes sticks);
    `known` is an answer just read (the first ask then waits its turn)."""
    last = [float("-inf"), False] if known is None else [time.monotonic(), known]

    def asked() -> bool:
        now = time.monotonic()
        if not last[1] and now - last[0] >= seconds:
            last[0], last[1] = now, check()
        return bool(last[1])

    return asked


def execute_generation(
    ctx: TaskContext,
    runner: Runner,
    task_id: str,
    worker: str,
    schedule_commit: Callable[[str, str, dict[str, str] | None], None],
    request_thumbnail: Callable[[str, str], None] = lambda project, path: None,
) -> TaskRecord | None:
    """Run one task to its end; the final record (None for an unknown task)."""
    records = ctx.records
    record, raw, cancel = records.begin(task_id)  # one round trip
    if record is None:
        log.error("task %s has no record; dropped", task_id)
        return None
    if record.status.finished:
        log.info("task %s already %s; nothing to do", task_id, record.status.value)
        return record
    if cancel:
        return _fail(ctx, record, "Cancelled.", cancelled=True)
    try:
        # the tier the take was asked at (its quality is recorded at submit time)
        quality = (
            Quality(record.tier)
            if record.tier
            else ctx.core.projects.get(record.project_id).quality
        )
        spec, tier = ctx.dispatcher.dispatch(record.pipeline, quality)
        parameters = spec.resolve(quality, record.parameters)
        extras = job_extras(ctx, spec, quality, record.project_id, parameters)
    except StudioError as exc:
        return _fail(ctx, record, exc.message)
    except Exception as exc:
        log.exception("task %s could not be prepared", task_id)
        return _fail(ctx, record, f"The task could not be prepared ({type(exc).__name__}: {exc}).")

    beats = ctx.heartbeats
    # running, its heartbeat beating, and the event that says so (published by Redis as it
    # stores the record), in one round trip
    record = records.update(
        task_id,
        started_now,
        read=raw,
        also=lambda pipe: beats.begin(task_id, worker, pipe),
        announce=lambda r: [(channel(r.project_id), encode(progress_of(r)))],
    )
    try:
        return _run(
            ctx,
            runner,
            record,
            spec,
            tier,
            quality,
            parameters,
            extras,
            schedule_commit,
            request_thumbnail,
        )
    finally:
        beats.end(task_id)


def _run(
    ctx: TaskContext,
    runner: Runner,
    record: TaskRecord,
    spec: PipelineSpec,
    tier: TierSpec,
    quality: Quality,
    parameters: dict[str, Any],
    extras: dict[str, Any],
    schedule_commit: Callable[[str, str, dict[str, str] | None], None],
    request_thumbnail: Callable[[str, str], None],
) -> TaskRecord:
    """The task from running to its end: whatever goes wrong ends it, it never stays running."""
    records, task_id = ctx.records, record.task_id
    out: Path | None = None
    relay: _ProgressRelay | None = None
    try:
        root = ctx.core.projects.path(record.project_id)
        out = job_dir(root, task_id)
        _fresh_folder(out)
        job = Job(
            job_id=task_id,
            parameters=parameters,
            quality=quality,
            tier=tier,
            output_dir=out,
            project_dir=root,
            models_dir=ctx.core.workspace.models_dir,
            extras=extras,
        )
        relay = _ProgressRelay(ctx, record, root)

        def note_runner(kind: str) -> None:
            relay.runner = kind  # recorded with the first progress (or at the end)

        outcome = runner.run(
            spec,
            job,
            relay,
            # begin() has just read the cancel flag: the first look waits its turn
            cancelled=_at_most_every(
                CANCEL_CHECK_EVERY, lambda: records.cancel_requested(task_id), known=False
            ),
            on_start=note_runner,
        )
        # a take being filed is announced, so takes filed at the same moment share a write
        filing = (
            ctx.core.manifests.coming(record.project_id)
            if spec.produces == "take"
            else contextlib.nullcontext()
        )
        with filing:
            relay.end()
            final = _complete(
                ctx, spec, tier, record, root, outcome, parameters, schedule_commit, relay
            )
        result = final.result
        if spec.produces == "take" and result is not None and not _pictured(result.output_path):
            # videos and sounds: the thumbnail pipeline (images got theirs with the take)
            request_thumbnail(final.project_id, result.output_path)
        return final
    except TakeAbandoned:
        # the submit could not write the take and cancelled the task: nothing is filed
        return records.get(task_id)
    except JobCancelled:
        return _fail(ctx, records.get(task_id), "Cancelled.", cancelled=True, relay=relay)
    except PipelineFailure as exc:
        return _fail(ctx, records.get(task_id), exc.message, relay=relay)
    except ProjectNotFound:
        return _fail(
            ctx,
            records.get(task_id),
            f"The project {record.project_id!r} no longer exists: it was deleted while "
            "the task was waiting or running.",
            relay=relay,
        )
    except StudioError as exc:
        return _fail(ctx, records.get(task_id), exc.message, relay=relay)
    except Exception as exc:
        log.exception("task %s failed inside the studio", task_id)
        return _fail(
            ctx,
            records.get(task_id),
            f"The task failed inside the studio ({type(exc).__name__}: {exc}); "
            "see the worker's log.",
            relay=relay,
        )
    finally:
        if out is not None:
            _remove_folder(out)
        if relay is not None:
            relay.drop_previews()


#: Job folders and preview folders kept empty for the next tasks (a rename each way, no
#: folder made or removed).
_SPARE_JOB_FOLDERS = SpareFolders()
_SPARE_PREVIEW_FOLDERS = SpareFolders()


def _fresh_folder(path: Path) -> None:
    """Make `path` an empty folder (its parents too): a redelivered task starts clean."""
    if _SPARE_JOB_FOLDERS.take(path):
        return
    try:
        path.mkdir()
    except FileNotFoundError:
        path.mkdir(parents=True)
    except FileExistsError:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()


def _remove_folder(path: Path) -> None:
    """Remove a job's folder: mostly empty by now (its outputs were moved into place); an
    empty one is kept for the next job."""
    if _SPARE_JOB_FOLDERS.give(path):
        return
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def job_extras(
    ctx: TaskContext,
    spec: PipelineSpec,
    quality: Quality,
    project_id: str,
    parameters: dict[str, Any],
) -> dict[str, Any]:
    """What a pipeline's job line carries besides the common fields: a ComfyUI pipeline gets
    its template, chosen and bound now (the version on disk at run time is the one recorded)."""
    if spec.templates != "comfyui":
        return {}
    root = ctx.core.projects.path(project_id)
    allowed = set(spec.parameters) - {"template"}
    block = ctx.core.workflows.prepare(parameters, quality, root, allowed, ctx.config.comfyui_url)
    return {"comfyui": block}


class _ProgressRelay:
    """Publish pipeline progress, merging bursts within a step, and keep the record up to date.

    Every step is published (a new step or preview at once, the same step at most every
    `PROGRESS_EVERY`), but the record is written at most every `RECORD_EVERY`, or with a new
    preview (which a client reconnecting must see) unless the last preview written came less
    than `RECORD_EVERY` before: a take of a few milliseconds costs no record write for its
    progress, only its start and its end, and a quick model's previews (one every step of a
    few milliseconds) no write each; the record then names one at most that old, and the
    preview it names is not removed before it names another. The task's `seq` goes on for
    each event published; the next write of the record takes the highest one, so a client that
    re-reads the record never goes back.

    A preview is moved out of the job's folder at once (the pipeline may write the next one
    under the same name) into `05_Cache/previews/<task>/`, where the last few are kept.
    """

    def __init__(self, ctx: TaskContext, record: TaskRecord, root: Path) -> None:
        self.ctx, self.task_id, self.root = ctx, record.task_id, root
        #: The record as it would read now (what the events say), and the highest seq used.
        self.record = record.model_copy()
        self.seq = record.seq
        self.last_sent = 0.0
        self.last_stored = time.monotonic()
        self.last_step = ""
        self.pending: tuple[float, str] | None = None
        self.preview: str | None = None
        self.previews: list[Path] = []
        #: The preview the record names (kept on disk while it does).
        self.stored_preview: str | None = None
        #: When the record was last written with a new preview.
        self.preview_stored = -math.inf
        #: The runner the job runs in, not yet in the record.
        self.runner: str | None = None
        #: The same, once the job ended: for the task's final record.
        self.leftover: str | None = None

    def __call__(self, progress: float, step: str, preview: Path | None = None) -> None:
        self.pending = (progress, step)
        fresh = preview is not None and self._keep(preview)
        if fresh or step != self.last_step or time.monotonic() - self.last_sent >= PROGRESS_EVERY:
            self.flush(store=fresh and time.monotonic() - self.preview_stored >= RECORD_EVERY)

    def _keep(self, source: Path) -> bool:
        relpath = takes.preview_relpath(self.task_id, len(self.previews) + 1, source.suffix)
        target = self.root / relpath
        try:
            if not self.previews:
                _SPARE_PREVIEW_FOLDERS.take(target.parent)  # else made when missing, below
            making_folder(target.parent, lambda: os.replace(source, target))
        except OSError as exc:  # a preview is a nicety: never fail the take for it
            log.warning("preview of %s not kept: %s", self.task_id, exc)
            return False
        self.previews.append(target)
        named = self.root / self.stored_preview if self.stored_preview else None
        for old in self.previews[:-PREVIEWS_KEPT]:
            if old != named:  # the one the record names stays while it does
                old.unlink(missing_ok=True)
        self.preview = relpath
        return True

    def flush(self, store: bool = False) -> None:
        """Publish the pending progress; write the record too when it is due (or `store`)."""
        if self.pending is None:
            return
        progress, step = self.pending
        preview, runner = self.preview, self.runner
        self.pending = None
        now = self.last_sent = time.monotonic()
        self.last_step = step
        shown = self.record
        shown.progress, shown.step, shown.preview = progress, step, preview
        if store or now - self.last_stored >= RECORD_EVERY:
            self.runner = None
            self.last_stored = now

            def change(r: TaskRecord) -> None:
                r.progress, r.step, r.preview = progress, step, preview
                r.seq = max(r.seq, self.seq)
                if runner is not None:
                    r.runner = runner

            shown = self.record = self.ctx.records.update(self.task_id, change)
            if preview != self.stored_preview:
                self.stored_preview, self.preview_stored = preview, now
        else:
            shown.seq = self.seq + 1
        self.seq = shown.seq
        self.ctx.publisher.publish(shown.project_id, progress_of(shown))

    def end(self) -> str | None:
        """The job ended: the last progress goes out, the previews go (the take replaces them).
        The runner kind not recorded yet (no progress carried it) is for the final record."""
        self.flush()
        if self.runner is not None:
            self.leftover, self.runner = self.runner, None
        self.drop_previews()
        return self.leftover

    def drop_previews(self) -> None:
        """Remove the task's previews from the cache, after `PREVIEWS_LINGER` seconds (the
        last progress event named one that a client may not have fetched yet)."""
        if self.previews:
            folder = self.previews[0].parent
            self.previews.clear()
            timer = threading.Timer(PREVIEWS_LINGER, _empty_previews, args=(folder,))
            timer.daemon = True
            timer.start()


def _empty_previews(folder: Path) -> None:
    """Remove a task's previews; their emptied folder is kept for another task's."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                os.unlink(entry.path)
    except OSError:
        pass
    if not _SPARE_PREVIEW_FOLDERS.give(folder):
        shutil.rmtree(folder, ignore_errors=True)


def _sidecar_bytes(sidecar: dict[str, Any]) -> bytes:
    """A take's sidecar as indented JSON."""
    try:
        return orjson.dumps(sidecar, option=orjson.OPT_INDENT_2) + b"\n"
    except (orjson.JSONEncodeError, TypeError):  # what orjson does not take (huge integers)
        return json.dumps(sidecar, indent=2).encode() + b"\n"


def _pictured(relpath: str) -> bool:
    """Whether a take's thumbnail is made with it (an image), not by the thumbnail pipeline."""
    return media_kind(relpath) == "image"


def _complete(
    ctx: TaskContext,
    spec: PipelineSpec,
    tier: TierSpec,
    record: TaskRecord,
    root: Path,
    outcome: JobOutcome,
    parameters: dict[str, Any],
    schedule_commit: Callable[[str, str, dict[str, str] | None], None],
    relay: _ProgressRelay | None = None,
) -> TaskRecord:
    """Place the outputs, register them, and announce success."""
    runner_kind, seq = (relay.end(), relay.seq) if relay is not None else (None, 0)
    # the task's own events: its progress, all queued by now (the project's change events
    # this filing queues are not the task's: its success need not wait for them)
    progressed = ctx.publisher.mine()
    # a project deleted meanwhile must not be half re-created by the outputs put in place
    root = ctx.core.projects.path(record.project_id)
    first, *others = outcome.outputs
    thumbnail: str | None = None
    if spec.produces == "take":
        assert record.take_id is not None
        take_id = record.take_id
        # the take is in the manifest (the submit wrote it), or it is added now
        project = ctx.core.manifests.read(record.project_id)
        missing = take_to_file(ctx, record, project)
        folder = root / takes.renders_dir(project, record.node_id)
        # the files and the sidecar land in one folder: one fsync of it makes them all durable
        main = _place(first, folder / f"{take_id}{first.suffix.lower()}", sync=False)
        for extra in others:
            _place(extra, folder / f"{take_id}-{extra.name}", sync=False)
        relpath = main.relative_to(root).as_posix()
        sidecar = {
            "take": take_id,
            "task": record.task_id,
            "shot": record.node_id,
            "pipeline": spec.id,
            "pipelineVersion": spec.version,
            "tier": record.tier,
            "tierSpec": tier.model_dump(mode="json", by_alias=True),
            "parameters": parameters,
            # what the take was made from, for whoever reads the file without the manifest
            "prompt": parameters.get("prompt"),
            "negativePrompt": parameters.get("negative_prompt"),
            "style": record.style,
            "references": record.references,
            "initImage": parameters.get("init_image") or None,
            "seed": parameters.get("seed"),
            "metadata": outcome.metadata,
            "author": record.author,
            "created": utcnow().isoformat(),
            "file": relpath,
        }
        atomic_write(
            main.with_suffix(".json"),
            _sidecar_bytes(sidecar),
            sync_dir=False,
        )
        fsync_dir(folder)
        if _pictured(relpath):
            # the worker has the picture at hand: its thumbnail comes with the take, in the
            # same manifest write (no second task, no second write)
            thumbnail = assets.make_thumbnail(root, relpath, ctx.config.thumbnail_size)
        ctx.core.manifests.update(
            record.project_id,
            lambda p: takes.complete(p, take_id, relpath, thumbnail, missing, record.node_id),
            coalesce=True,
            lazy=True,
        )
        result = TaskResult(
            output_path=relpath, metadata=outcome.metadata, take_id=take_id, outputs=[relpath]
        )
    elif spec.produces == "export":
        placed = [_place(out, root / EXPORTS / out.name) for out in outcome.outputs]
        files = [path.relative_to(root).as_posix() for path in placed]
        project = ctx.core.projects.get(record.project_id)
        info = exports.describe(
            project,
            root,
            record.node_id,
            exports.kind_of(spec.id, parameters),
            parameters,
            files,
            record.task_id,
            record.author,
            utcnow(),
        )
        exports.record(root, info)
        result = TaskResult(
            output_path=files[0], metadata=outcome.metadata, outputs=files, export=info
        )
    else:
        assert record.target is not None
        target = root / record.target
        main = _place(first, target)
        relpath = main.relative_to(root).as_posix()
        result = TaskResult(output_path=relpath, metadata=outcome.metadata, outputs=[relpath])

    def done(r: TaskRecord) -> None:
        finish(
            r,
            TaskStatus.completed,
            result=result,
            progress=1.0,
            step="done",
            error=None,
            preview=None,
        )
        r.seq = max(r.seq, seq)  # after every progress event published
        if runner_kind is not None:
            r.runner = runner_kind

    def told(r: TaskRecord) -> list[tuple[str, str]]:
        """The success, and a take's new state, published by Redis as it stores the record."""
        events: list[CamelModel] = [
            TaskSuccess(task_id=r.task_id, node_id=r.node_id, result=result, seq=r.seq)
        ]
        if spec.produces == "take":
            state: dict[str, Any] = {
                "status": "completed",
                "file": result.output_path,
                "shotId": r.node_id,
            }
            if thumbnail is not None:
                state["thumbnail"] = thumbnail
            events.append(NodeStateUpdated(node_id=result.take_id or "", state=state))
        return [(channel(r.project_id), encode(event)) for event in events]

    # the task's own events (its progress) go out first: a task's events keep their order,
    # and the success is not a round trip of the event sender's besides
    ctx.publisher.flush_mine(ctx.config.redis_timeout, upto=progressed)
    final = ctx.records.update(record.task_id, done, announce=told)
    if spec.produces == "take":
        schedule_commit(final.project_id, f"{final.node_id}: take {result.take_id}", final.author)
    elif spec.produces == "thumbnail":
        source = str(parameters["source"])
        category = assets.category_of(source)
        if source.startswith(f"{RENDERS}/"):
            _, take = ctx.core.manifests.update(
                final.project_id,
                lambda p: takes.set_thumbnail(p, source, result.output_path),
                coalesce=True,
            )
            if take is not None:
                ctx.publisher.publish(
                    final.project_id,
                    NodeStateUpdated(
                        node_id=take.id,
                        state={"status": take.status.value, "thumbnail": result.output_path},
                    ),
                )
        elif category is not None and (root / source).is_file():
            asset = assets.describe(final.project_id, root, root / source, int(parameters["size"]))
            ctx.publisher.publish(final.project_id, AssetAdded(category=category, asset=asset))
    return final


def _place(source: Path, target: Path, sync: bool = True) -> Path:
    """Move a finished output into place (same filesystem: a rename, over the file there: a
    redelivered task's own take, the export or thumbnail being made again); `sync=False` leaves
    the folder's fsync to the caller. The pipeline wrote the file and did not flush it: its
    data goes to disk first, so a take or export named in the manifest is never an empty file
    after a power cut (the folder's fsync alone makes the name durable, not the bytes)."""
    fsync_path(source)
    making_folder(target.parent, lambda: os.replace(source, target))
    if sync:
        fsync_dir(target.parent)
    return target


def _fail(
    ctx: TaskContext,
    record: TaskRecord,
    error: str,
    cancelled: bool = False,
    relay: _ProgressRelay | None = None,
) -> TaskRecord:
    status = TaskStatus.cancelled if cancelled else TaskStatus.error
    runner_kind, seq = (relay.end(), relay.seq) if relay is not None else (None, 0)
    # what a user reads: paths relative to the project (or workspace), no server paths
    project_root = ctx.core.workspace.project_dir(record.project_id, must_exist=False)
    error = public_text(public_text(error, project_root), ctx.core.workspace.root)

    ended_here = False

    def failed(r: TaskRecord) -> None:
        nonlocal ended_here
        if r.status.finished:
            raise RecordUnchanged  # ended meanwhile (its submit gave it up): that end stands
        finish(r, status, error=error, preview=None)
        r.seq = max(r.seq, seq)  # after every progress event published
        if runner_kind is not None:
            r.runner = runner_kind
        ended_here = True

    final = ctx.records.update(record.task_id, failed)
    if not ended_here:
        return final
    mark_take_failed(ctx, final, error)
    ctx.publisher.publish(
        final.project_id,
        TaskFailed(
            task_id=final.task_id,
            node_id=final.node_id,
            error=error,
            seq=final.seq,
            cancelled=cancelled,
        ),
    )
    if final.take_id:
        ctx.publisher.publish(
            final.project_id,
            NodeStateUpdated(
                node_id=final.take_id,
                state={
                    "status": "cancelled" if cancelled else "error",
                    "error": error,
                    "shotId": final.node_id,
                },
            ),
        )
    return final
