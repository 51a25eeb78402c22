"""A pool of warm pipeline programs per pipeline and tier, with an idle timeout."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from ..registry import PipelineSpec
from .base import Job, Launcher, PipelineProcess

log = logging.getLogger(__name__)


class PoolWaitCancelled(Exception):
    """The job was cancelled while it waited for a program of its pipeline to be free."""


class Lease:
    """A program handed out for one job. A program holds its leases in the order their jobs
    were sent to it; the first one's job is the one it runs (its turn), the others' lines
    wait in its stdin (`PipelineSpec.jobs_ahead`)."""

    def __init__(self, process: PipelineProcess, ahead: bool = False) -> None:
        self.process = process
        #: Sent to a program busy with another job: it runs once the jobs before it end.
        self.ahead = ahead
        #: Why the job's line could not be written to the program, if it could not (an
        #: `OSError`: the program died).
        self.error: Exception | None = None


class ProcessPool:
    """Keeps up to `size` programs per (pipeline, tier, runner, scope), busy or idle; retires
    those idle too long.

    A worker running several tasks at once (threads) shares them: a job whose pipeline has
    `size` programs busy waits for one (a model is loaded `size` times at most, never once per
    task), or, for a pipeline that takes `jobs_ahead`, is sent to a busy one that has fewer
    jobs waiting, so the program starts it the moment it ends the one it runs. A program that
    died, or that the runner gave up on, is never handed out again, so the next job starts a
    fresh one; the jobs waiting in it are dropped and start again elsewhere.
    """

    def __init__(self, size: int = 1, idle_timeout: float = 300.0) -> None:
        self.size = size
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, ...], list[PipelineProcess]] = defaultdict(list)
        self._busy: dict[tuple[str, ...], int] = defaultdict(int)
        #: The programs handed out, each with its leases in turn order.
        self._out: dict[PipelineProcess, list[Lease]] = {}
        self._lock = threading.Condition()
        self.started_count = 0

    def acquire(
        self,
        spec: PipelineSpec,
        job: Job,
        launcher: Launcher,
        line: Callable[[PipelineProcess], str],
        cancelled: Callable[[], bool] = lambda: False,
    ) -> Lease:
        """A warm idle program for the pipeline, tier and scope, or a new one from `launcher`;
        when `size` of them are busy, a place behind the job of one of them (`jobs_ahead`) or
        the first one handed back (`PoolWaitCancelled` if `cancelled()` turns true meanwhile).

        The job's `line` (as the program sees it) is written to the program as it is handed
        out, so a program gets its jobs' lines in the order of their leases, which is the order
        their threads read its events in (`Lease.error` when the write failed)."""
        self.reap()
        key = (spec.id, job.quality.value, launcher.kind, launcher.scope(job))
        ahead = spec.jobs_ahead if spec.warm else 0
        with self._lock:
            while True:
                idle = self._idle[key]
                while idle:
                    process = idle.pop()
                    if process.alive() and process.spec == spec:
                        self._busy[key] += 1
                        return self._hand_out(process, line)
                    process.kill()
                if self._busy[key] < self.size:
                    self._busy[key] += 1  # a place for the program started below
                    break
                behind = self._room_behind(key, spec, ahead)
                if behind is not None:
                    return self._hand_out(behind, line, ahead=True)
                if cancelled():
                    raise PoolWaitCancelled()
                self._lock.wait(0.1)
        try:
            process = launcher.start(spec, job)
        except BaseException:
            self._done(key)
            raise
        self.started_count += 1
        with self._lock:
            return self._hand_out(process, line)

    def _hand_out(
        self, process: PipelineProcess, line: Callable[[PipelineProcess], str], ahead: bool = False
    ) -> Lease:
        # under the lock: no other job's line gets in between its lease and its line
        lease = Lease(process, ahead)
        self._out.setdefault(process, []).append(lease)
        try:
            process.send_line(line(process))
        except Exception as exc:
            lease.error = exc
        return lease

    def _room_behind(
        self, key: tuple[str, ...], spec: PipelineSpec, ahead: int
    ) -> PipelineProcess | None:
        """The busy program of `key` with the fewest jobs waiting, if fewer than `ahead`."""
        if ahead <= 0:
            return None
        room = [
            (len(leases), process)
            for process, leases in self._out.items()
            if process.key == key and process.spec == spec and len(leases) <= ahead
        ]
        for _, process in sorted(room, key=lambda item: item[0]):
            if process.alive():
                return process
        return None

    def wait_turn(self, lease: Lease, timeout: float) -> bool | None:
        """Wait up to `timeout` seconds for the jobs sent to `lease`'s program before its own
        to end: True when its job runs now, False when the program was given up meanwhile (the
        job never started: run it again), None when it still waits."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                leases = self._out.get(lease.process)
                if not leases or lease not in leases:
                    return False
                if leases[0] is lease:
                    return True
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._lock.wait(left)

    def _done(self, key: tuple[str, ...]) -> None:
        # a busy place is free again
        with self._lock:
            self._busy[key] = max(0, self._busy[key] - 1)
            self._lock.notify_all()

    def release(self, lease: Lease) -> None:
        """Hand a program back after a job; the next job sent to it runs now. With none, a dead
        one or one over the pool size is stopped, a live one waits warm."""
        process = lease.process
        process.last_used = time.monotonic()
        key = process.key
        with self._lock:
            leases = self._out.get(process)
            if not leases or lease not in leases:
                return  # handed back already
            leases.remove(lease)
            if leases:
                self._lock.notify_all()  # the next job's turn
                return
            del self._out[process]
        if not process.spec.warm or not process.alive():
            process.kill()
            self._done(key)
            return
        with self._lock:
            self._busy[key] = max(0, self._busy[key] - 1)
            idle = self._idle[key]
            keep = len(idle) < self.size
            if keep:
                idle.append(process)
            self._lock.notify_all()
        if not keep:
            process.kill()

    def discard(self, lease: Lease) -> bool:
        """Stop a program that misbehaved; it is not reused, and the jobs waiting in it start
        again elsewhere. Only while `lease` holds it: a no-op once the job handed it back.

        A lease whose job waits behind another's is only withdrawn: the program and the job it
        runs go on. True then: the caller tells the program to skip the withdrawn job."""
        process = lease.process
        with self._lock:
            leases = self._out.get(process)
            if not leases or lease not in leases:
                if process not in self._out and process not in self._idle[process.key]:
                    process.kill()  # never handed out by this pool: stopped all the same
                return False
            if leases[0] is not lease:
                leases.remove(lease)
                return True
            del self._out[process]
            self._lock.notify_all()  # the jobs waiting in it start again
        process.kill()
        self._done(process.key)
        return False

    def reap(self) -> None:
        """Stop the programs idle longer than the timeout."""
        now = time.monotonic()
        stale: list[PipelineProcess] = []
        with self._lock:
            for key, idle in self._idle.items():
                keep = [p for p in idle if now - p.last_used < self.idle_timeout and p.alive()]
                stale += [p for p in idle if p not in keep]
                self._idle[key] = keep
        for process in stale:
            log.info("retiring idle pipeline %s", "/".join(process.key))
            process.kill()

    def waiting_count(self) -> int:
        """How many jobs were sent to busy programs and wait their turn."""
        with self._lock:
            return sum(len(leases) - 1 for leases in self._out.values())

    def idle_count(self) -> int:
        """How many programs wait warm."""
        with self._lock:
            return sum(len(v) for v in self._idle.values())

    def close(self) -> None:
        """Stop every idle program."""
        with self._lock:
            everything = [p for idle in self._idle.values() for p in idle]
            self._idle.clear()
        for process in everything:
            process.kill()
