"""Pipeline programs as local subprocesses, speaking the protocol over stdin and stdout."""

from __future__ import annotations

import contextlib
import os
import select
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


class _Lines:
    """The lines of a pipe, read by whoever asks for the next one (a job's own thread).

    Reading the pipe in the thread that waits for the line saves a thread handoff per line (a
    reader thread and a queue cost two wake-ups, each behind the threads holding the GIL), and
    the next job's line leaves sooner: with one warm process and a burst of takes that was
    about a tenth of the takes/s. Only the thread running the process's job reads.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._buffer = b""
        self._closed = False

    def next(self, timeout: float) -> str | None:
        """The next line; None if none came within `timeout`; EOFError once the pipe closed
        (after its last line, even one without a newline)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                return raw.decode("utf-8", "replace").rstrip("\r")
            if self._closed:
                if self._buffer:
                    raw, self._buffer = self._buffer, b""
                    return raw.decode("utf-8", "replace").rstrip("\r")
                raise EOFError
            if not self._poll.poll(max(0, int(timeout * 1000))):
                return None
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            if chunk:
                self._buffer += chunk
            else:
                self._closed = True


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
        self._stdout = _Lines(self.proc.stdout.fileno())
        self._pump(self.proc.stderr, is_stdout=False)

    def next_line(self, timeout: float) -> str | None:
        return self._stdout.next(timeout)

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
