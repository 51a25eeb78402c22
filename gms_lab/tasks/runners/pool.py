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


class ProcessPool:
    """Keeps up to `size` programs per (pipeline, tier, runner, scope), busy or idle; retires
    those idle too long.

    A worker running several tasks at once (threads) shares them: a job whose pipeline has
    `size` programs busy waits for one (a model is loaded `size` times at most, never once per
    task). A program that died, or that the runner gave up on, is never handed out again, so
    the next job starts a fresh one.
    """

    def __init__(self, size: int = 1, idle_timeout: float = 300.0) -> None:
        self.size = size
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, ...], list[PipelineProcess]] = defaultdict(list)
        self._busy: dict[tuple[str, ...], int] = defaultdict(int)
        self._lock = threading.Condition()
        self.started_count = 0

    def acquire(
        self,
        spec: PipelineSpec,
        job: Job,
        launcher: Launcher,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> PipelineProcess:
        """A warm idle program for the pipeline, tier and scope, or a new one from `launcher`;
        when `size` of them are busy, the first one handed back (`PoolWaitCancelled` if
        `cancelled()` turns true meanwhile)."""
        self.reap()
        key = (spec.id, job.quality.value, launcher.kind, launcher.scope(job))
        with self._lock:
            while True:
                idle = self._idle[key]
                while idle:
                    process = idle.pop()
                    if process.alive() and process.spec == spec:
                        self._busy[key] += 1
                        process.in_use, process.lease = True, object()
                        return process
                    process.kill()
                if self._busy[key] < self.size:
                    self._busy[key] += 1  # a place for the program started below
                    break
                if cancelled():
                    raise PoolWaitCancelled()
                self._lock.wait(0.1)
        try:
            process = launcher.start(spec, job)
        except BaseException:
            self._done(key)
            raise
        self.started_count += 1
        process.in_use, process.lease = True, object()
        return process

    def _done(self, key: tuple[str, ...]) -> None:
        # a busy place is free again
        with self._lock:
            self._busy[key] = max(0, self._busy[key] - 1)
            self._lock.notify_all()

    def _hand_back(self, process: PipelineProcess) -> bool:
        """Whether `process` was out for a job (handing back twice does nothing the 2nd time)."""
        with self._lock:
            out, process.in_use = process.in_use, False
            return out

    def release(self, process: PipelineProcess) -> None:
        """Hand a program back after a job; a dead one or one over the pool size is stopped."""
        process.last_used = time.monotonic()
        key = process.key
        if not self._hand_back(process):
            return
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

    def discard(self, process: PipelineProcess, lease: object = None) -> None:
        """Stop a program that misbehaved; it is not reused. With `lease` (the process's
        `lease` when it was handed out), only if it was not handed back (and out again) since.
        """
        if lease is not None and process.lease is not lease:
            return
        if not self._hand_back(process):
            if not process.in_use and process not in self._idle[process.key]:
                process.kill()  # never handed out by this pool: stopped all the same
            return
        process.kill()
        self._done(process.key)

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
