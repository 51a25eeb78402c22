"""The JSON-lines protocol every pipeline program speaks: jobs on stdin, events on stdout.

A pipeline's ``main.py`` writes one handler and calls :func:`serve`::

    def render(job: Job, progress: Progress) -> Result:
        progress(0.5, "halfway")
        with job.writing("preview.jpg") as path:
            small.save(path)  # a small picture of the work so far
        progress(0.6, "more than halfway", preview="preview.jpg")
        ...
        return Result(outputs=["take.png"], metadata={"width": 640})

    if __name__ == "__main__":
        serve(render, manifest=Path(__file__).with_name("pipeline.toml"))

The process stays warm: it answers job after job until stdin closes. A ``{"cancel": jobId}``
line for the running job makes its next ``progress`` call raise :class:`Cancelled` (handlers may
also poll ``job.cancelled()``); the job is answered with a cancelled error and the process waits
for the next job, its models still loaded. Standard library only, so the module runs in any
container that has a Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import sys
import threading
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol


class Progress(Protocol):
    """The callback a handler reports through: a fraction, what it does, a preview image.

    ``preview`` is the file name (inside the output dir, written atomically) of a small picture
    of the work so far. The call raises :class:`Cancelled` once the job was cancelled.
    """

    def __call__(self, fraction: float, step: str, preview: str | None = None) -> None: ...


#: Seconds between two preview pictures when the studio says nothing (its `preview_every`).
PREVIEW_EVERY = 0.2


def preview_every() -> float:
    """Seconds at least between two preview pictures of a job (`GMS_PREVIEW_EVERY`, the
    studio's setting `preview_every`; `PREVIEW_EVERY` when unset or unreadable, 0 for no
    limit). A preview is for a person watching the take: one every few milliseconds shows
    nothing more, and the work of writing, moving and announcing each is taken from the job."""
    try:
        return max(0.0, float(os.environ.get("GMS_PREVIEW_EVERY", "") or PREVIEW_EVERY))
    except ValueError:
        return PREVIEW_EVERY


class PipelineError(Exception):
    """A failure the user can act on; its message becomes the error event word for word."""


class Cancelled(PipelineError):
    """The studio cancelled the running job: raised by ``progress``; ``serve`` answers it."""

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Result:
    """What a finished job hands back: file names inside the output dir, and facts about them."""

    outputs: list[str]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """One job line, parsed: merged parameters, the tier it runs at, and where files go."""

    id: str
    parameters: dict[str, Any]
    tier: dict[str, Any]
    output_dir: Path
    project_dir: Path | None
    #: The workspace's model library (``Library/AI_Models``), for pipelines that load models.
    models_dir: Path | None = None
    #: Fields of the job line beyond the common ones, for pipelines that take more (`comfyui`).
    extras: dict[str, Any] = field(default_factory=dict)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    _on_cancel: list[Callable[[], None]] = field(default_factory=list, repr=False, compare=False)

    def cancelled(self) -> bool:
        """Whether the studio asked to cancel this job (long loops may poll it)."""
        return self._cancel.is_set()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the stdin reader's thread) when the job is cancelled.

        For handlers that wait on something else (a socket, a process) and want to wake at
        once rather than poll; called right away if the job is already cancelled.
        """
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()

    def _mark_cancelled(self) -> None:
        if self._cancel.is_set():
            return
        self._cancel.set()
        for callback in list(self._on_cancel):
            try:
                callback()
            except Exception:  # a listener's failure must not stop the stdin reader
                traceback.print_exc(file=sys.stderr)

    @property
    def tier_name(self) -> str:
        """The tier's name ("low", "standard", "high"), or "" when the job named none."""
        return str(self.tier.get("name", ""))

    def output_path(self, name: str) -> Path:
        """The path of an output file; ``name`` must be a plain file name, never a path."""
        if not isinstance(name, str) or not name or name in {".", ".."}:
            raise PipelineError(f"output name {name!r} is not a file name")
        if "/" in name or "\\" in name or "\0" in name:
            raise PipelineError(f"output name {name!r} must be a file name, not a path")
        return self.output_dir / name

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[Path]:
        """Yield a scratch path for output ``name``; it becomes ``name`` only if the block succeeds.

        A file watcher on the project never sees a half-written take.
        """
        final = self.output_path(name)
        scratch = final.with_name(f".{final.stem}.partial{final.suffix}")
        try:
            yield scratch
            os.replace(scratch, final)
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise

    def input_path(self, relative: str) -> Path:
        """Resolve a project-relative input path, refusing anything outside the project."""
        if self.project_dir is None:
            raise PipelineError("the job has no projectDir to resolve inputs against")
        if not isinstance(relative, str) or not relative.strip() or "\0" in relative:
            raise PipelineError(f"input path {relative!r} is not a path")
        root = self.project_dir.resolve()
        candidate = (root / relative).resolve()
        if not candidate.is_relative_to(root):
            raise PipelineError(f"input {relative} is outside the project")
        if not candidate.is_file():
            raise PipelineError(f"input {relative} not found in the project")
        return candidate


Handler = Callable[[Job, Progress], Result]


def serve(handler: Handler, manifest: Path | None = None) -> None:
    """Answer jobs from stdin until it closes, printing events on stdout.

    ``manifest`` is the pipeline's ``pipeline.toml``; its defaults and the tier's parameters
    fill any parameter the job left out (the runner already merges them the same way, so this
    only matters when the program is driven by hand) and its declared types are checked.
    """
    declared = _declared_parameters(manifest) if manifest else {}
    events, stdin = _claim_stdio()
    inbox = _Inbox(stdin)
    for line in iter(inbox.next_job, None):
        job_id: Any = None
        try:
            try:
                raw = json.loads(line)
            except (ValueError, RecursionError) as exc:
                raise PipelineError(f"malformed job line: {exc}") from None
            if not isinstance(raw, dict):
                raise PipelineError("malformed job line: not a JSON object")
            job_id = raw.get("jobId")
            job = _parse_job(raw, declared)
        except PipelineError as exc:
            _emit(events, {"jobId": _json_safe_id(job_id), "event": "error", "message": str(exc)})
            continue
        inbox.running(job)
        try:
            _run(handler, job, events)
        finally:
            inbox.running(None)


class _Inbox:
    """Reads stdin on a thread: job lines queue up, cancel lines flag their job at once."""

    def __init__(self, stream: IO[str]) -> None:
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._current: Job | None = None
        # cancels that came before their job started (kept small: ids are never reused)
        self._early: dict[str, None] = {}
        threading.Thread(target=self._read, args=(stream,), daemon=True, name="gms-in").start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in iter(stream.readline, ""):
                if not line.strip():
                    continue
                target = _cancel_target(line)
                if target is None:
                    self._jobs.put(line)
                else:
                    self._cancel(target)
        finally:
            self._jobs.put(None)

    def _cancel(self, job_id: str) -> None:
        with self._lock:
            if self._current is not None and self._current.id == job_id:
                self._current._mark_cancelled()
                return
            self._early[job_id] = None
            while len(self._early) > 64:
                del self._early[next(iter(self._early))]

    def running(self, job: Job | None) -> None:
        """The job now being run (None between jobs)."""
        with self._lock:
            self._current = job
            if job is not None and job.id in self._early:
                del self._early[job.id]
                job._mark_cancelled()

    def next_job(self) -> str | None:
        """The next job line; None once stdin closed."""
        return self._jobs.get()


def _cancel_target(line: str) -> str | None:
    """The job id of a ``{"cancel": jobId}`` line, else None (the line is a job)."""
    if '"cancel"' not in line:
        return None
    try:
        raw = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if isinstance(raw, dict) and "jobId" not in raw and isinstance(raw.get("cancel"), str):
        return str(raw["cancel"])
    return None


def _run(handler: Handler, job: Job, events: IO[str]) -> None:
    last = 0.0
    previews = 0

    def progress(fraction: float, step: str, preview: str | None = None) -> None:
        if job.cancelled():
            raise Cancelled()
        # Progress only moves forward, so a handler's rounding never makes a bar jump back.
        nonlocal last, previews
        last = max(last, min(1.0, max(0.0, float(fraction))))
        event: dict[str, Any] = {"jobId": job.id, "event": "progress", "progress": last}
        event["step"] = step
        if preview is not None:
            source = job.output_path(preview)
            if not source.is_file():
                raise PipelineError(f"the preview {preview} was not written")
            # Sent under a name of its own: the studio moves a preview away when it reads the
            # event, which may be after the handler wrote the next one under the same name.
            previews += 1
            sent = source.with_name(f"{source.stem}-{previews}{source.suffix}")
            os.replace(source, sent)
            event["preview"] = sent.name
        _emit(events, event)

    try:
        result = handler(job, progress)
        if job.cancelled():
            raise Cancelled()
        missing = [name for name in result.outputs if not job.output_path(name).is_file()]
        if missing:
            raise PipelineError(f"the pipeline did not write {', '.join(missing)}")
        event = {
            "jobId": job.id,
            "event": "result",
            "outputs": list(result.outputs),
            "metadata": result.metadata,
        }
        _emit(events, event)
    except Cancelled as exc:
        _emit(events, {"jobId": job.id, "event": "error", "message": str(exc), "cancelled": True})
    except PipelineError as exc:
        _emit(events, {"jobId": job.id, "event": "error", "message": str(exc)})
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        message = f"{type(exc).__name__}: {exc}"
        _emit(events, {"jobId": job.id, "event": "error", "message": message})


def _claim_stdio() -> tuple[IO[str], IO[str]]:
    """Keep the real stdin/stdout for the protocol; point fds 0 and 1 elsewhere.

    A stray ``print``, a chatty library or a child process (ffmpeg reads stdin by default)
    could otherwise corrupt the event stream or swallow the next job line.
    """
    sys.stdout.flush()
    events = open(os.dup(1), "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    jobs = open(os.dup(0), encoding="utf-8", errors="replace")  # noqa: SIM115
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return events, jobs


def _emit(events: IO[str], event: dict[str, Any]) -> None:
    try:
        line = json.dumps(event, allow_nan=False)  # ASCII on the wire: no locale surprises
    except (TypeError, ValueError) as exc:
        line = json.dumps(
            {"jobId": event.get("jobId"), "event": "error", "message": f"unreportable: {exc}"}
        )
    events.write(line + "\n")
    events.flush()


def _json_safe_id(job_id: Any) -> str | int | None:
    return job_id if isinstance(job_id, str | int) and not isinstance(job_id, bool) else None


def _parse_job(raw: dict[str, Any], declared: dict[str, dict[str, Any]]) -> Job:
    job_id = raw.get("jobId")
    if not isinstance(job_id, str) or not job_id:
        raise PipelineError("the job line has no jobId string")
    parameters = raw.get("parameters", {})
    tier = raw.get("tier") or {}
    if not isinstance(parameters, dict) or not isinstance(tier, dict):
        raise PipelineError("parameters and tier must be JSON objects")
    output_dir = raw.get("outputDir")
    if not isinstance(output_dir, str) or not Path(output_dir).is_dir():
        raise PipelineError(f"outputDir {output_dir!r} is not an existing directory")
    project_dir = raw.get("projectDir")
    if project_dir is not None and not isinstance(project_dir, str):
        raise PipelineError("projectDir must be a path")
    models_dir = raw.get("modelsDir")
    if models_dir is not None and not isinstance(models_dir, str):
        raise PipelineError("modelsDir must be a path")
    tier_parameters = tier.get("parameters") or {}
    merged = {name: spec["default"] for name, spec in declared.items() if "default" in spec}
    merged.update(tier_parameters if isinstance(tier_parameters, dict) else {})
    merged.update(parameters)
    for name, spec in declared.items():
        if name in merged:
            _check_parameter(name, spec, merged[name])
    return Job(
        id=job_id,
        parameters=merged,
        tier=tier,
        output_dir=Path(output_dir),
        project_dir=Path(project_dir) if project_dir else None,
        models_dir=Path(models_dir) if models_dir else None,
        extras={key: value for key, value in raw.items() if key not in _COMMON_FIELDS},
    )


#: The job line's fields every pipeline reads; anything else lands in `Job.extras`.
_COMMON_FIELDS = frozenset({"jobId", "parameters", "tier", "outputDir", "projectDir", "modelsDir"})


def _declared_parameters(manifest: Path) -> dict[str, dict[str, Any]]:
    with manifest.open("rb") as file:
        declared: dict[str, dict[str, Any]] = tomllib.load(file).get("parameters", {})
    return declared


_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _check_parameter(name: str, spec: dict[str, Any], value: Any) -> None:
    kind = spec.get("type", "string")
    # bool is an int in Python, but true is no width.
    is_bool = isinstance(value, bool)
    if not isinstance(value, _KINDS.get(kind, (object,))) or (is_bool and kind != "boolean"):
        article = "an" if kind == "integer" else "a"
        raise PipelineError(f"parameter {name} must be {article} {kind}, not {value!r}")
    if "enum" in spec and value not in spec["enum"]:
        choices = ", ".join(str(choice) for choice in spec["enum"])
        raise PipelineError(f"parameter {name} must be one of {choices}, not {value!r}")
    if "minimum" in spec and value < spec["minimum"]:
        raise PipelineError(f"parameter {name} must be at least {spec['minimum']}, not {value}")
    if "maximum" in spec and value > spec["maximum"]:
        raise PipelineError(f"parameter {name} must be at most {spec['maximum']}, not {value}")
    if spec.get("multipleOf") and value % spec["multipleOf"]:
        raise PipelineError(f"parameter {name} must be a multiple of {spec['multipleOf']}")
