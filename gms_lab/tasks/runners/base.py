"""The pipeline protocol seen from the studio: a live program, jobs in, JSON-line events out."""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ...models import Quality
from ..registry import PipelineSpec, TierSpec

_EOF = object()
_STDERR_LINES = 40


class PipelineFailure(Exception):
    """The job in flight failed; `kind` says how (error, crash, timeout, garbage, escape)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


class JobCancelled(PipelineFailure):
    """The user cancelled the job; `warm` says whether its process honoured it and lives on."""

    def __init__(self, warm: bool = False) -> None:
        super().__init__("Cancelled.", "cancelled")
        self.warm = warm


@dataclass
class Job:
    """One job for a pipeline program: host paths; the process translates them for itself."""

    job_id: str
    parameters: dict[str, Any]
    quality: Quality
    tier: TierSpec
    output_dir: Path
    project_dir: Path
    #: The workspace's model library, which pipelines that load models read from.
    models_dir: Path | None = None
    #: More fields of the job line for pipelines that take them (`comfyui`: the bound workflow).
    extras: dict[str, Any] = field(default_factory=dict)

    def line(self, process: PipelineProcess) -> str:
        """The job as the JSON line the program reads, with paths as the program sees them."""
        return json.dumps(
            {
                **self.extras,
                "jobId": self.job_id,
                "parameters": self.parameters,
                "tier": {
                    "name": self.quality.value,
                    **self.tier.model_dump(mode="json", by_alias=True),
                },
                "outputDir": process.translate(self.output_dir),
                "projectDir": process.translate(self.project_dir),
                "modelsDir": process.models_path(self.models_dir),
            },
            ensure_ascii=True,
        )


@dataclass
class JobOutcome:
    """A finished job: its output files (host paths, inside the output dir) and metadata."""

    outputs: list[Path]
    metadata: dict[str, Any] = field(default_factory=dict)


class PipelineProcess(ABC):
    """One live pipeline program (a local process or a container) answering jobs in turn.

    Subclasses start the program and call `_pump` on its stdout and stderr streams (or `_feed`
    the lines, or read stdout themselves in `next_line`); this class turns them into lines with
    timeouts and keeps the last stderr lines for error messages.
    """

    kind = "process"

    def __init__(self, spec: PipelineSpec, quality: Quality, scope: str = "") -> None:
        self.spec = spec
        self.quality = quality
        self.scope = scope
        self.started = time.monotonic()
        self.last_used = self.started
        self.jobs_done = 0
        self._sending = threading.Lock()
        self._lines: queue.Queue[object] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """The pool key: pipeline, tier, kind (local or docker), scope (a container's project)."""
        return (self.spec.id, self.quality.value, self.kind, self.scope)

    def _pump(self, stream: IO[bytes], is_stdout: bool) -> None:
        def read() -> None:
            try:
                for raw in iter(stream.readline, b""):
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if is_stdout:
                        self._lines.put(line)
                    else:
                        self._stderr.append(line)
            except (OSError, ValueError):
                pass
            finally:
                if is_stdout:
                    self._lines.put(_EOF)

        threading.Thread(target=read, daemon=True, name=f"pipe-{self.spec.id}").start()

    def _feed(self, line: str | None, stderr: str | None = None) -> None:
        """For subclasses that demultiplex streams themselves: one line, or None at the end."""
        if stderr is not None:
            self._stderr.append(stderr)
        elif line is None:
            self._lines.put(_EOF)
        else:
            self._lines.put(line)

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line; None if none came within `timeout`; EOFError when closed."""
        try:
            item = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _EOF:
            self._lines.put(_EOF)
            raise EOFError
        assert isinstance(item, str)
        return item

    def stderr_tail(self, lines: int = 12) -> str:
        """The last lines the program wrote to stderr."""
        return "\n".join(list(self._stderr)[-lines:])

    def send_line(self, line: str) -> None:
        """Write one line to the program's stdin, whole: the threads of the jobs it holds
        (one running, others waiting their turn) may write at once."""
        with self._sending:
            self.send(line)

    @abstractmethod
    def send(self, line: str) -> None:
        """Write one line to the program's stdin (`send_line` is the one to call)."""

    @abstractmethod
    def alive(self) -> bool:
        """Whether the program is still running."""

    @abstractmethod
    def exit_code(self) -> int | None:
        """The program's exit code once it ended."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the program now and release what it holds (a container is removed)."""

    @abstractmethod
    def translate(self, host_path: Path) -> str:
        """A host path as the program sees it."""

    def models_path(self, host_path: Path | None) -> str | None:
        """The model library as the program sees it (None when there is none)."""
        return str(host_path) if host_path is not None else None


class Launcher(ABC):
    """Starts pipeline programs of one kind (local processes, containers)."""

    kind = "process"

    def scope(self, job: Job) -> str:
        """What a warm program is bound to besides pipeline and tier ("" for nothing)."""
        return ""

    @abstractmethod
    def start(self, spec: PipelineSpec, job: Job) -> PipelineProcess:
        """Start a program for `spec` at the job's tier (raise to refuse, with a clear reason)."""
