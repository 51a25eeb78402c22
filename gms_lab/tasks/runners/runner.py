"""Runs one job on a warm pipeline program: progress relayed, failures contained to the job."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ...core.errors import UnsafePath
from ...core.paths import resolve_inside
from ..registry import PipelineSpec
from .base import Job, JobCancelled, JobOutcome, Launcher, PipelineFailure
from .pool import Lease, PoolWaitCancelled, ProcessPool

log = logging.getLogger(__name__)
#: Picks how a pipeline runs: as a local process or in a container.
LauncherChooser = Callable[[PipelineSpec, Job], Launcher]
#: How many times a job sent to a busy program may find that program given up before its turn.
_DROPS = 3


class Progress(Protocol):
    """Told of each progress event: fraction, step, and the preview file when one came."""

    def __call__(self, progress: float, step: str, preview: Path | None = None) -> None: ...


class Runner:
    """Sends jobs to pooled pipeline programs and reads their events until the job ends.

    A cancel is passed on as a `{"cancel": jobId}` line; a program that answers the job within
    `cancel_grace` seconds goes back to the pool warm, one that does not is stopped.
    """

    def __init__(
        self,
        pool: ProcessPool,
        choose: LauncherChooser,
        poll: float = 0.1,
        cancel_grace: float = 10.0,
    ) -> None:
        self.pool = pool
        self.choose = choose
        self.poll = poll
        self.cancel_grace = cancel_grace

    def run(
        self,
        spec: PipelineSpec,
        job: Job,
        on_progress: Progress,
        cancelled: Callable[[], bool] = lambda: False,
        on_start: Callable[[str], None] | None = None,
    ) -> JobOutcome:
        """Run `job`; the outcome, or `PipelineFailure` (the worker itself never goes down).

        The program goes back to the pool however the job ends: warm after an answer, stopped
        otherwise (also when `on_progress` raises). A job sent to a busy program
        (`jobs_ahead`) runs when the jobs before it end; if that program is given up first,
        the job starts again on another one.
        """
        launcher = self.choose(spec, job)
        for _ in range(_DROPS):
            lease = self._start(spec, job, launcher, cancelled)
            try:
                turn, cancel_sent = (
                    self._await_turn(lease, job, cancelled) if lease.ahead else (True, False)
                )
                if not turn:
                    continue  # its program was given up before the job started: another one
                return self._follow(
                    spec, job, lease, launcher, on_progress, cancelled, on_start, cancel_sent
                )
            except BaseException:
                # a no-op when the job handed the program back already
                if self.pool.discard(lease):
                    self._skip(lease, job)
                raise
        raise PipelineFailure(
            f"Pipeline {spec.id!r} stopped {_DROPS} times before this job's turn came.", "crash"
        )

    def _await_turn(
        self, lease: Lease, job: Job, cancelled: Callable[[], bool]
    ) -> tuple[bool, bool]:
        """Wait until the jobs sent to the program before this one ended: whether the job runs
        now (False: the program was given up before, the job never started), and whether a
        cancel was passed on meanwhile."""
        cancel_sent = False
        while True:
            turn = self.pool.wait_turn(lease, self.poll)
            if turn is not None:
                return turn, cancel_sent
            if not cancel_sent and cancelled():
                # the program answers the job as cancelled the moment it starts it
                cancel_sent = True
                self._skip(lease, job)

    @staticmethod
    def _skip(lease: Lease, job: Job) -> None:
        """Ask the program to drop `job` (a cancel line): best effort."""
        with contextlib.suppress(OSError):
            lease.process.send_line(json.dumps({"cancel": job.job_id}))

    def _follow(
        self,
        spec: PipelineSpec,
        job: Job,
        lease: Lease,
        launcher: Launcher,
        on_progress: Progress,
        cancelled: Callable[[], bool],
        on_start: Callable[[str], None] | None,
        cancelled_waiting: bool = False,
    ) -> JobOutcome:
        process = lease.process
        if on_start is not None:
            on_start(launcher.kind)
        deadline = time.monotonic() + spec.timeout
        # a cancel passed on while the job waited its turn: its grace starts with the turn
        cancel_sent = time.monotonic() if cancelled_waiting else None
        progress = 0.0
        while True:
            if cancel_sent is None and cancelled():
                cancel_sent = time.monotonic()
                try:
                    process.send_line(json.dumps({"cancel": job.job_id}))
                except OSError:
                    self.pool.discard(lease)
                    raise JobCancelled() from None
            if cancel_sent is not None and time.monotonic() - cancel_sent > self.cancel_grace:
                log.info("pipeline %s ignored the cancel of %s; stopped", spec.id, job.job_id)
                self.pool.discard(lease)
                raise JobCancelled()
            if time.monotonic() > deadline:
                self.pool.discard(lease)
                raise PipelineFailure(
                    f"Pipeline {spec.id!r} took longer than its timeout of {spec.timeout:g} s; "
                    "it was stopped.",
                    "timeout",
                )
            try:
                line = process.next_line(self.poll)
            except EOFError:
                raise self._crashed(lease, spec) from None
            if line is None or not line.strip():
                continue
            event = self._parse(lease, spec, line)
            if event.get("jobId") not in (job.job_id, None):
                # a job withdrawn while it waited in the program (see `_skip`), or garbage
                log.info("pipeline %s: event for another job ignored: %s", spec.id, line[:200])
                continue
            name = event.get("event")
            if cancel_sent is not None and name in ("result", "error"):
                process.jobs_done += 1
                if event.get("cancelled") is True:  # it honoured the cancel: keep it warm
                    self.pool.release(lease)
                    raise JobCancelled(warm=True)
                # It answered without having read the cancel line, which is still waiting on
                # its stdin; a program that does not know the line could take it for a job.
                self.pool.discard(lease)
                raise JobCancelled()
            if name == "progress":
                value = _fraction(event.get("progress"))
                progress = max(progress, value)
                step = str(event.get("step", ""))[:500]
                preview = _preview(job, event.get("preview"))
                if preview is None:
                    on_progress(progress, step)
                else:
                    on_progress(progress, step, preview)
            elif name == "result":
                # the program is free for the next job now, before its outputs are checked
                process.jobs_done += 1
                self.pool.release(lease)
                return self._outcome(job, event)
            elif name == "error":
                message = str(event.get("message") or "The pipeline reported an error.")
                process.jobs_done += 1
                self.pool.release(lease)
                if event.get("cancelled") is True:
                    raise JobCancelled(warm=True)
                raise PipelineFailure(message[:4000], "error")
            else:
                self.pool.discard(lease)
                raise PipelineFailure(
                    f"Pipeline {spec.id!r} sent an unknown event {name!r}.", "garbage"
                )

    def _start(
        self, spec: PipelineSpec, job: Job, launcher: Launcher, cancelled: Callable[[], bool]
    ) -> Lease:
        # an idle program may have died since its last job: one fresh retry
        for attempt in (1, 2):
            try:
                lease = self.pool.acquire(spec, job, launcher, job.line, cancelled)
            except PoolWaitCancelled:
                raise JobCancelled() from None
            except Exception as exc:
                raise PipelineFailure(
                    f"Pipeline {spec.id!r} could not be started: {exc}", "start"
                ) from exc
            if lease.error is None:
                return lease
            self.pool.discard(lease)  # never leak a process or container
            if not isinstance(lease.error, OSError):
                raise PipelineFailure(
                    f"Pipeline {spec.id!r} could not be sent the job: {lease.error}", "start"
                ) from lease.error
            if attempt == 2:
                raise self._crashed(lease, spec)
        raise AssertionError("unreachable")

    def _parse(self, lease: Lease, spec: PipelineSpec, line: str) -> dict[str, Any]:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or "event" not in event:
            self.pool.discard(lease)
            raise PipelineFailure(
                f"Pipeline {spec.id!r} printed a line that is not a protocol event: "
                f"{line[:200]!r}. Pipelines must print only JSON events on stdout "
                "(log to stderr).",
                "garbage",
            )
        return event

    def _crashed(self, lease: Lease, spec: PipelineSpec) -> PipelineFailure:
        process = lease.process
        deadline = time.monotonic() + 2
        while process.alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        code = process.exit_code()
        tail = process.stderr_tail()
        self.pool.discard(lease)
        detail = f":\n{tail}" if tail else " (nothing on stderr)."
        return PipelineFailure(
            f"Pipeline {spec.id!r} exited with code {code} during the job{detail}", "crash"
        )

    @staticmethod
    def _outcome(job: Job, event: dict[str, Any]) -> JobOutcome:
        names = event.get("outputs")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise PipelineFailure("The pipeline's result lists no output files.", "error")
        outputs: list[Path] = []
        for name in names:
            try:
                path = resolve_inside(job.output_dir, name)
            except UnsafePath as exc:
                raise PipelineFailure(
                    f"The pipeline wrote {name!r}, outside its output folder: {exc.message}",
                    "escape",
                ) from exc
            if not path.is_file():
                raise PipelineFailure(f"The pipeline's output {name!r} is missing.", "error")
            outputs.append(path)
        metadata = event.get("metadata")
        return JobOutcome(outputs=outputs, metadata=metadata if isinstance(metadata, dict) else {})


def _preview(job: Job, name: Any) -> Path | None:
    """The preview file a progress event names, if it is a file inside the output dir."""
    if not isinstance(name, str) or not name:
        return None
    try:
        path = resolve_inside(job.output_dir, name)
    except UnsafePath:
        log.warning("job %s: preview %r is outside its output folder; ignored", job.job_id, name)
        return None
    return path if path.is_file() else None


def _fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(1.0, max(0.0, number))
