"""Warm pipeline processes: reused between jobs, retired after their idle timeout; jobs sent
ahead to a busy one (`jobs_ahead`)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gms_lab.models import Quality
from gms_lab.tasks.registry import PipelineRegistry, PipelineSpec
from gms_lab.tasks.runners.base import Job, JobCancelled, JobOutcome, PipelineFailure
from gms_lab.tasks.runners.local import LocalLauncher
from gms_lab.tasks.runners.pool import ProcessPool
from gms_lab.tasks.runners.runner import Runner
from tests.services import TEST_PIPELINES, wait_until


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


def paced(tmp_path: Path, n: int, steps: int, pause: float) -> Job:
    spec = PipelineRegistry([TEST_PIPELINES]).get("paced")
    out = tmp_path / f"paced{n}"
    out.mkdir()
    return Job(
        job_id=f"p{n}",
        parameters={"steps": steps, "pause": pause, "preview_every": 1000},
        quality=Quality.low,
        tier=spec.tier(Quality.low),
        output_dir=out,
        project_dir=tmp_path,
    )


def ahead_runner(timeout: float = 20) -> tuple[PipelineSpec, ProcessPool, Runner]:
    """One warm `paced` program that takes one job ahead of the one it runs."""
    spec = PipelineRegistry([TEST_PIPELINES]).get("paced")
    spec = spec.model_copy(update={"jobs_ahead": 1, "timeout": timeout})
    pool = ProcessPool(size=1)
    launcher = LocalLauncher()
    return spec, pool, Runner(pool, lambda s, j: launcher, poll=0.02)


def test_a_job_sent_to_a_busy_program_runs_the_moment_the_one_before_ends(
    tmp_path: Path,
) -> None:
    spec, pool, runner = ahead_runner()
    seen: list[tuple[int, str, float]] = []

    def run(n: int, steps: int, pause: float) -> JobOutcome:
        return runner.run(
            spec,
            paced(tmp_path, n, steps, pause),
            lambda p, s, preview=None: seen.append((n, "progress", p)),
            on_start=lambda kind: seen.append((n, "start", 0.0)),
        )

    with ThreadPoolExecutor(2) as threads:
        # the first runs 2 s: long enough, on a loaded machine, to see the second wait
        first = threads.submit(run, 1, 10, 0.2)
        wait_until(lambda: (1, "progress", 0.1) in seen, 10, 0.01)
        second = threads.submit(run, 2, 2, 0.05)
        # its line went to the busy program: it waits there, not for the program's return
        wait_until(lambda: pool.waiting_count() == 1, 5, 0.005)
        assert (2, "start", 0.0) not in seen
        a, b = first.result(20), second.result(20)
    assert a.metadata["pid"] == b.metadata["pid"] and pool.started_count == 1
    assert (a.metadata["jobsInProcess"], b.metadata["jobsInProcess"]) == (1, 2)
    # its turn came after the whole of the first job: events in order, each to its own job
    assert seen.index((2, "start", 0.0)) > seen.index((1, "progress", 1.0))
    assert [p for n, kind, p in seen if n == 2 and kind == "progress"] == [0.5, 1.0]
    assert b.outputs == [tmp_path / "paced2" / "take.png"]
    assert pool.waiting_count() == 0 and pool.idle_count() == 1
    pool.close()


def test_a_job_waiting_in_a_program_that_is_given_up_starts_again_on_a_fresh_one(
    tmp_path: Path,
) -> None:
    spec, pool, runner = ahead_runner(timeout=1.0)
    with ThreadPoolExecutor(2) as threads:
        # 40 steps of 0.05 s: over the timeout, so its program is stopped
        first = threads.submit(runner.run, spec, paced(tmp_path, 1, 40, 0.05), _quiet)
        wait_until(lambda: pool.started_count == 1, 10, 0.01)
        second = threads.submit(runner.run, spec, paced(tmp_path, 2, 1, 0.0), _quiet)
        wait_until(lambda: pool.waiting_count() == 1, 5, 0.005)
        with pytest.raises(PipelineFailure) as failed:
            first.result(20)
        done = second.result(20)
    assert failed.value.kind == "timeout"
    assert done.metadata["jobsInProcess"] == 1 and pool.started_count == 2
    pool.close()


def test_a_job_cancelled_while_it_waits_in_a_program_ends_cancelled_and_the_program_stays_warm(
    tmp_path: Path,
) -> None:
    spec, pool, runner = ahead_runner()
    cancel = threading.Event()
    with ThreadPoolExecutor(2) as threads:
        first = threads.submit(runner.run, spec, paced(tmp_path, 1, 10, 0.05), _quiet)
        wait_until(lambda: pool.started_count == 1, 10, 0.01)
        second = threads.submit(
            runner.run, spec, paced(tmp_path, 2, 5, 0.05), _quiet, cancel.is_set
        )
        wait_until(lambda: pool.waiting_count() == 1, 5, 0.005)
        cancel.set()
        with pytest.raises(JobCancelled) as cancelled:
            second.result(20)
        a = first.result(20)
        # (in the pool's thread: a program started by a thread dies with that thread)
        after = threads.submit(runner.run, spec, paced(tmp_path, 3, 1, 0.0), _quiet).result(20)
    assert cancelled.value.warm and a.metadata["jobsInProcess"] == 1
    assert after.metadata["pid"] == a.metadata["pid"] and pool.started_count == 1
    pool.close()


def test_jobs_from_many_threads_each_get_their_own_events(tmp_path: Path) -> None:
    """Lines go to the program in the order its jobs' threads read events in: a job whose line
    overtook another's would read the other's events and its own would never come."""
    spec, pool, runner = ahead_runner(timeout=3)
    jobs = [paced(tmp_path, n, 1, 0.0) for n in range(48)]
    with ThreadPoolExecutor(6) as threads:
        outcomes = list(threads.map(lambda j: runner.run(spec, j, _quiet), jobs))
    assert [o.outputs for o in outcomes] == [[j.output_dir / "take.png"] for j in jobs]
    assert sorted(o.metadata["jobsInProcess"] for o in outcomes) == list(range(1, 49))
    assert pool.started_count == 1
    pool.close()


def _quiet(progress: float, step: str, preview: Path | None = None) -> None:
    pass
