"""A pool of warm pipeline programs per pipeline and tier, with an idle timeout."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from ..registry import PipelineSpec
from .base import Job, Launcher, PipelineProcess

log = logging.getLogger(__name__)


class ProcessPool:
    """Keeps up to `size` idle programs per (pipeline, tier); retires those idle too long.

    A program that died, or that the runner gave up on, is never handed out again, so the next
    job starts a fresh one.
    """

    def __init__(self, size: int = 1, idle_timeout: float = 300.0) -> None:
        self.size = size
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, ...], list[PipelineProcess]] = defaultdict(list)
        self._lock = threading.Lock()
        self.started_count = 0

    def acquire(self, spec: PipelineSpec, job: Job, launcher: Launcher) -> PipelineProcess:
        """A warm idle program for the pipeline, tier and scope, or a new one from `launcher`."""
        self.reap()
        key = (spec.id, job.quality.value, launcher.kind, launcher.scope(job))
        with self._lock:
            idle = self._idle[key]
            while idle:
                process = idle.pop()
                if process.alive() and process.spec == spec:
                    return process
                process.kill()
        process = launcher.start(spec, job)
        self.started_count += 1
        return process

    def release(self, process: PipelineProcess) -> None:
        """Hand a program back after a job; a dead one or one over the pool size is stopped."""
        process.last_used = time.monotonic()
        if not process.spec.warm or not process.alive():
            process.kill()
            return
        with self._lock:
            idle = self._idle[process.key]
            if len(idle) < self.size:
                idle.append(process)
                return
        process.kill()

    def discard(self, process: PipelineProcess) -> None:
        """Stop a program that misbehaved; it is not reused."""
        process.kill()

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
