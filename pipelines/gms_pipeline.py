"""The JSON-lines protocol every pipeline program speaks: jobs on stdin, events on stdout.

A pipeline's ``main.py`` writes one handler and calls :func:`serve`::

    def render(job: Job, progress: Progress) -> Result:
        progress(0.5, "halfway")
        ...
        return Result(outputs=["take.png"], metadata={"width": 640})

    if __name__ == "__main__":
        serve(render, manifest=Path(__file__).with_name("pipeline.toml"))

The process stays warm: it answers job after job until stdin closes. Standard library only, so
the module runs in any container that has a Python.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tomllib
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

Progress = Callable[[float, str], None]


class PipelineError(Exception):
    """A failure the user can act on; its message becomes the error event word for word."""


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
        finally:
            scratch.unlink(missing_ok=True)

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
    events, jobs = _claim_stdio()
    for line in iter(jobs.readline, ""):
        if not line.strip():
            continue
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
        _run(handler, job, events)


def _run(handler: Handler, job: Job, events: IO[str]) -> None:
    last = 0.0

    def progress(fraction: float, step: str) -> None:
        # Progress only moves forward, so a handler's rounding never makes a bar jump back.
        nonlocal last
        last = max(last, min(1.0, max(0.0, float(fraction))))
        _emit(events, {"jobId": job.id, "event": "progress", "progress": last, "step": step})

    try:
        result = handler(job, progress)
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
    )


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
