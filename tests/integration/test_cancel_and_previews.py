"""The runner's side of cancel and previews, on real pipeline processes.

A pipeline built on `gms_pipeline` honours the cancel line and stays warm; one that ignores it
is stopped after the grace period. Previews named in progress events reach the caller.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gms_lab.models import Quality
from gms_lab.tasks.registry import PipelineRegistry
from gms_lab.tasks.runners.base import Job, JobCancelled
from gms_lab.tasks.runners.local import LocalLauncher
from gms_lab.tasks.runners.pool import ProcessPool
from gms_lab.tasks.runners.runner import Runner
from tests.services import TEST_PIPELINES


class Bench:
    """A runner over a one-process pool of local pipelines, as a worker holds it."""

    def __init__(self, tmp_path: Path, grace: float) -> None:
        self.tmp_path = tmp_path
        self.registry = PipelineRegistry([TEST_PIPELINES])
        self.pool = ProcessPool(size=1, idle_timeout=60)
        launcher = LocalLauncher()
        self.runner = Runner(self.pool, lambda s, j: launcher, cancel_grace=grace)
        self.count = 0

    def job(self, pipeline: str, **parameters: object) -> Job:
        self.count += 1
        spec = self.registry.get(pipeline)
        out = self.tmp_path / f"job{self.count}"
        out.mkdir()
        return Job(
            job_id=f"j{self.count}",
            parameters=spec.resolve(Quality.standard, parameters),
            quality=Quality.standard,
            tier=spec.tier(Quality.standard),
            output_dir=out,
            project_dir=self.tmp_path,
        )

    def run_cancelled(self, pipeline: str, **parameters: object) -> tuple[JobCancelled, float]:
        """Run a job, cancel it at its first progress event: the failure and how long it took."""
        asked = threading.Event()
        when: list[float] = []

        def progress(value: float, step: str, preview: Path | None = None) -> None:
            if not asked.is_set():
                when.append(time.monotonic())
                asked.set()

        spec = self.registry.get(pipeline)
        with pytest.raises(JobCancelled) as cancelled:
            self.runner.run(spec, self.job(pipeline, **parameters), progress, asked.is_set)
        return cancelled.value, time.monotonic() - when[0]


def test_a_pipeline_that_honours_cancel_stays_warm_for_the_next_job(tmp_path: Path) -> None:
    bench = Bench(tmp_path, grace=30)
    spec = bench.registry.get("paced")
    first = bench.runner.run(spec, bench.job("paced", steps=2, pause=0), lambda p, s, v=None: None)

    cancelled, took = bench.run_cancelled("paced", steps=500, pause=0.05)

    assert cancelled.warm and cancelled.message == "Cancelled."
    assert took < 5  # it stopped at its next step, far before the grace or its 25 s of work
    after = bench.runner.run(spec, bench.job("paced", steps=2, pause=0), lambda p, s, v=None: None)
    assert after.metadata["pid"] == first.metadata["pid"]
    assert after.metadata["jobsInProcess"] == 3 and bench.pool.started_count == 1
    bench.pool.close()


def test_a_pipeline_that_ignores_cancel_is_stopped_after_the_grace(tmp_path: Path) -> None:
    bench = Bench(tmp_path, grace=1.0)
    spec = bench.registry.get("slow")
    first = bench.runner.run(spec, bench.job("slow"), lambda p, s, v=None: None)

    cancelled, took = bench.run_cancelled("slow", seconds=30)

    assert not cancelled.warm
    assert 1.0 <= took < 5  # it had its grace, then it was stopped
    assert bench.pool.idle_count() == 0
    after = bench.runner.run(spec, bench.job("slow"), lambda p, s, v=None: None)
    assert after.metadata["pid"] != first.metadata["pid"]
    assert after.metadata["jobsInProcess"] == 1
    bench.pool.close()


def test_previews_named_in_progress_reach_the_runner_caller(tmp_path: Path) -> None:
    bench = Bench(tmp_path, grace=5)
    seen: list[tuple[float, str, bytes | None]] = []

    def progress(value: float, step: str, preview: Path | None = None) -> None:
        seen.append((value, step, preview.read_bytes() if preview else None))

    spec = bench.registry.get("paced")
    bench.runner.run(spec, bench.job("paced", steps=6, pause=0, preview_every=2), progress)

    assert [step for _, step, _ in seen] == [f"step {n}/6" for n in range(1, 7)]
    with_preview = [n for n, (_, _, data) in enumerate(seen, 1) if data]
    assert with_preview == [2, 4, 6]
    assert all(data.startswith(b"\x89PNG") for _, _, data in seen if data)
    bench.pool.close()
