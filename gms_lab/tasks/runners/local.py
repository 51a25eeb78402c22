"""Pipeline programs as local subprocesses, speaking the protocol over stdin and stdout."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from ...models import Quality
from ..registry import PipelineSpec
from .base import Job, Launcher, PipelineProcess

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the worker that started us dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalProcess(PipelineProcess):
    """A pipeline started with its `entry` argv, in the pipelines folder, `python` as this one."""

    kind = "local"

    def __init__(self, spec: PipelineSpec, quality: Quality) -> None:
        super().__init__(spec, quality)
        argv = [sys.executable if a in ("python", "python3") else a for a in spec.entry]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "GMS_TIER": quality.value}
        self.proc = subprocess.Popen(
            argv,
            cwd=spec.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            start_new_session=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pump(self.proc.stdout, is_stdout=True)
        self._pump(self.proc.stderr, is_stdout=False)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode("utf-8") + b"\n")
        self.proc.stdin.flush()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def translate(self, host_path: Path) -> str:
        return str(host_path)


class LocalLauncher(Launcher):
    """Starts pipelines as local processes."""

    kind = "local"

    def start(self, spec: PipelineSpec, job: Job) -> PipelineProcess:
        return LocalProcess(spec, job.quality)
