"""Warm pipeline processes: reused between jobs, retired after their idle timeout."""

from __future__ import annotations

import time
from pathlib import Path

from gms_lab.models import Quality
from gms_lab.tasks.registry import PipelineRegistry
from gms_lab.tasks.runners.base import Job
from gms_lab.tasks.runners.local import LocalLauncher
from gms_lab.tasks.runners.pool import ProcessPool
from gms_lab.tasks.runners.runner import Runner
from tests.services import TEST_PIPELINES


def job(tmp_path: Path, n: int) -> Job:
    spec = PipelineRegistry([TEST_PIPELINES]).get("slow")
    out = tmp_path / f"job{n}"
    out.mkdir()
    return Job(
        job_id=f"j{n}",
        parameters={"seconds": 0},
        quality=Quality.low,
        tier=spec.tier(Quality.low),
        output_dir=out,
        project_dir=tmp_path,
    )


def test_processes_stay_warm_then_retire(tmp_path: Path) -> None:
    spec = PipelineRegistry([TEST_PIPELINES]).get("slow")
    pool = ProcessPool(size=1, idle_timeout=0.5)
    launcher = LocalLauncher()
    runner = Runner(pool, lambda s, j: launcher)
    steps: list[float] = []
    first = runner.run(spec, job(tmp_path, 1), lambda p, s: steps.append(p))
    second = runner.run(spec, job(tmp_path, 2), lambda p, s: None)
    assert first.metadata["pid"] == second.metadata["pid"]
    assert second.metadata["jobsInProcess"] == 2 and pool.started_count == 1
    assert pool.idle_count() == 1
    time.sleep(0.7)
    pool.reap()
    assert pool.idle_count() == 0
    third = runner.run(spec, job(tmp_path, 3), lambda p, s: None)
    assert third.metadata["pid"] != first.metadata["pid"] and pool.started_count == 2
    pool.close()
    assert pool.idle_count() == 0
