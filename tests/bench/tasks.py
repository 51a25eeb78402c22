"""Tasks: submit → running, takes/s through warm `still` processes with 1, 2 and 4 worker
processes, each against no-op Celery tasks on the same Redis in the same run."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, cast

from celery import Celery

from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import NodeCreate, ProjectCreate, TaskRecord, TaskSubmit
from gms_lab.tasks.celery_app import make_celery, sender
from gms_lab.tasks.context import TaskContext
from gms_lab.tasks.records import TASK_KEY
from gms_lab.tasks.service import TaskService
from tests.services import (
    REPO,
    TEST_PIPELINES,
    Worker,
    project_with_shot,
    studio_config,
    task_service,
    wait_until,
)

from . import cpu
from .film import big_film
from .table import Row, Table, ms

#: The worker's no-op task (`gms_lab.tasks.worker.ping`), the baseline of these rows.
PING = "gms.ping"

TINY = {"prompt": "fog over the harbour", "width": 16, "height": 16, "steps": 1}


def _finished(ctx: TaskContext, ids: list[str]) -> Iterator[bool]:
    """Whether each of the tasks `ids` has finished (their records read in one round trip)."""
    raws = cast(list[bytes | None], ctx.redis.mget([TASK_KEY + i for i in ids]))
    return (raw is not None and TaskRecord.model_validate_json(raw).status.finished for raw in raws)


def _all_finished(ctx: TaskContext, ids: list[str]) -> bool:
    return all(_finished(ctx, ids))


class _Finishing:
    """A cheap check that all of `ids` are finished, for a burst's wait: it reads the records
    from the first one not yet seen finished (a finished record stays finished), a few at a
    time. Reading all of them at every look cost the bench's process a core's share beside the
    workers it measures (2 cores here)."""

    def __init__(self, ctx: TaskContext, ids: list[str], step: int = 8) -> None:
        self.ctx, self.ids, self.step, self.seen = ctx, ids, step, 0

    def __call__(self) -> bool:
        while self.seen < len(self.ids):
            for done in _finished(self.ctx, self.ids[self.seen : self.seen + self.step]):
                if not done:
                    return False
                self.seen += 1
        return True


def _pings(ctx: TaskContext, celery: Celery, n: int, tag: str) -> float:
    keys = [f"bench:ping:{tag}:{i}" for i in range(n)]
    send = sender(celery)
    start = time.perf_counter()
    for key in keys:
        send(PING, uuid.uuid4().hex, {"key": key})
    wait_until(lambda: ctx.redis.exists(*keys) == n, 120, 0.005)
    return n / (time.perf_counter() - start)


def bench_submit(url: str, tmp: Path, table: Table) -> None:
    """Submit → running, one task at a time on an idle worker, vs a no-op Celery task: from the
    call to the moment the worker runs it (its own clock: the record's `started`, the time the
    no-op wrote), and how long the submit takes to answer (its take is durable by then)."""
    n = 100
    print(f"submit → running, {n} tasks")
    config = studio_config(
        tmp / "ws-submit", pipelines_path=[REPO / "pipelines", TEST_PIPELINES], auto_commit=False
    )
    worker = Worker(config, url, tmp / "bench-worker-submit.log").start()
    try:
        service = task_service(config, url)
        ctx = service.ctx
        send = sender(make_celery(config, url))
        project, shot = project_with_shot(ctx.core, "Submit")
        request = TaskSubmit(project_id=project, node_id=shot, pipeline="still", parameters=TINY)
        service.submit(request)  # warm the process
        wait_until(lambda: _project_idle(ctx, project, 1), 60, 0.01)
        running, answered = [], []
        for i in range(n):
            called, sent = time.time(), time.perf_counter()
            record = service.submit(request)
            answered.append(time.perf_counter() - sent)
            # the worker is idle again: the take (and its thumbnail) is done
            wait_until(lambda i=i: _project_idle(ctx, project, i + 2), 30, 0.002)
            started = ctx.records.get(record.task_id).started
            assert started is not None
            running.append(started.timestamp() - called)
            time.sleep(0.01)  # and back waiting for work
        raw, raw_seen = [], []
        for i in range(n):
            key = f"bench:ping:lat:{i}"
            called, sent = time.time(), time.perf_counter()
            send(PING, uuid.uuid4().hex, {"key": key})
            wait_until(lambda k=key: ctx.redis.exists(k), 30, 0.0002)
            raw_seen.append(time.perf_counter() - sent)
            raw.append(float(cast(bytes, ctx.redis.get(key))) - called)
            time.sleep(0.01)
        ours, base = ms(running), ms(raw)
        answer, seen = ms(answered), ms(raw_seen)
        table.add(
            Row(
                "submit → running, p50",
                ours["p50"],
                "ms",
                "a no-op Celery task on the same Redis",
                base["p50"],
                "≤ 2x the no-op task",
                ratio=ours["p50"] / base["p50"],
                meets=ours["p50"] / base["p50"] <= 2,
                notes=f"p99 {ours['p99']:.1f} ms; the submit answers in {answer['p50']:.1f} ms "
                f"(its take durable), the no-op's key is seen in {seen['p50']:.1f} ms",
                extra={"studio": ours, "baseline": base, "answered": answer, "seen": seen},
            )
        )
    finally:
        worker.stop()


def _project_idle(ctx: TaskContext, project: str, count: int) -> bool:
    """The project has `count` tasks, all of them finished."""
    tasks = ctx.records.for_project(project, count + 1)
    return len(tasks) >= count and all(r.status.finished for r in tasks)


def _busy(ctx: TaskContext) -> bool:
    return bool(ctx.redis.llen("gms"))


def bench_takes(url: str, tmp: Path, table: Table, processes: tuple[int, ...] = (1, 2, 4)) -> None:
    """A burst of tiny `still` takes: takes/s with 1, 2 and 4 worker processes, submitted one
    take a submit and then `PER_SUBMIT` takes a submit (`count`)."""
    n = 200
    for per_submit in (1, PER_SUBMIT):
        for count in processes:
            _takes_with(url, tmp, table, n, count, per_submit)
    _film_takes(url, tmp, table, n)


#: Tasks one worker process runs at once (threads; see the setting `worker_pool`): the
#: studio's default.
THREADS: int = StudioConfig.model_fields["worker_concurrency"].default
#: Clients submitting at once (a script, a few users): their takes' writes are coalesced.
SUBMITTERS = 4
#: Takes a submit asks for in the rows of several takes a submit (its `count`).
PER_SUBMIT = 25
#: Bursts per takes/s row, one after the other on the same workers: the row is their median
#: (one burst of 200 takes lasts 1 to 2 s, and on a 2-core machine one burst's figure is noisy).
BURSTS = 3


def _submit_many(service: TaskService, request: TaskSubmit, n: int) -> list[str]:
    """`n` takes from `SUBMITTERS` threads, `request.count` takes a submit; the task ids."""
    with ThreadPoolExecutor(SUBMITTERS) as pool:
        made = pool.map(lambda _: service.submit_all(request), range(n // request.count))
        return [r.task_id for records in made for r in records]


class Burst(NamedTuple):
    """What `_burst` measured."""

    rates: list[float]
    submits: float
    pings: float
    #: CPU milliseconds a take cost, by party (`cpu.per_item`)
    cost: dict[str, float]


def _burst(
    url: str,
    tmp: Path,
    tag: str,
    n: int,
    count: int,
    parameters: dict[str, object],
    pipeline: str = "still",
    noop: bool = True,
    per_submit: int = 1,
    bursts: int = 1,
    film: int = 0,
) -> Burst:
    """`bursts` times `n` takes submitted at once to `count` worker processes (each of
    `THREADS` threads and one warm pipeline process), one burst after the other: takes/s of
    each burst, submits/s of the median one, no-op Celery tasks/s on the same workers
    afterwards (0 without `noop`), and the CPU a take cost. With `film`, the takes go to a
    shot of a film of that many takes (`big_film`), not of a new project."""
    config = studio_config(
        tmp / f"ws-{tag}-{count}",
        pipelines_path=[REPO / "pipelines", TEST_PIPELINES],
        auto_commit=False,
        worker_pool="threads",
        pool_size=1,  # one warm pipeline process per worker process
    )
    workers = [
        Worker(config, url, tmp / f"bench-worker-{tag}-{count}-{i}.log", concurrency=THREADS)
        for i in range(count)
    ]
    try:
        for worker in workers:
            worker.start()
        service = task_service(config, url)
        ctx = service.ctx
        if film:
            project, shot = big_film(ctx.core, f"{tag} {count}", film)
        else:
            project, shot = project_with_shot(ctx.core, f"{tag} {count}")
        request = TaskSubmit(
            project_id=project, node_id=shot, pipeline=pipeline, parameters=parameters
        )
        warm = [service.submit(request).task_id for _ in range(count * THREADS * 2)]
        wait_until(lambda w=warm: _all_finished(ctx, w), 120, 0.02)
        wait_until(lambda: not _busy(ctx), 60, 0.01)
        runs: list[tuple[float, float]] = []
        pids = [worker.proc.pid for worker in workers if worker.proc is not None]
        processes = {"workers": pids, "pipelines": cpu.descendants(pids)}
        before = cpu.spent(processes, ctx.redis)
        for _ in range(bursts):
            start = time.perf_counter()
            ids = _submit_many(service, request.model_copy(update={"count": per_submit}), n)
            submitted = time.perf_counter() - start
            wait_until(_Finishing(ctx, ids), 600, 0.02)
            runs.append((n / (time.perf_counter() - start), n / submitted))
            wait_until(lambda: not _busy(ctx), 120, 0.01)
        cost = cpu.per_item(before, cpu.spent(processes, ctx.redis), n * bursts)
        pings = _pings(ctx, make_celery(config, url), 1000, f"{tag}{count}") if noop else 0.0
        return Burst([rate for rate, _ in runs], sorted(runs)[len(runs) // 2][1], pings, cost)
    finally:
        for worker in workers:
            worker.stop()


def _takes_with(url: str, tmp: Path, table: Table, n: int, count: int, per_submit: int) -> None:
    print(
        f"takes/s, {n} takes, {per_submit} a submit, "
        f"{count} worker process(es) of {THREADS} threads"
    )
    tag = "takes" if per_submit == 1 else f"takes-{per_submit}"
    rates, submits, noop, cost = _burst(
        url, tmp, tag, n, count, TINY, per_submit=per_submit, bursts=BURSTS
    )
    rate = statistics.median(rates)
    how = "one a submit" if per_submit == 1 else f"{per_submit} a submit (`count`)"
    table.add(
        Row(
            f"takes/s, tiny `still` frames, {how}, {count} worker process(es)",
            rate,
            "/s",
            "no-op Celery tasks/s, same workers",
            noop,
            "≥ 150/s with one, ≥ 300/s with several",
            ratio=rate / noop,
            meets=rate >= (150 if count == 1 else 300),
            notes=f"the median of {len(rates)} bursts ({min(rates):.0f} to {max(rates):.0f}/s); "
            f"{THREADS} threads and one warm `still` process each; "
            f"{SUBMITTERS} clients submit {submits:.0f} takes/s; thumbnails made with the take; "
            + cpu.describe(cost, "still"),
            extra={
                "takes": n,
                "perSubmit": per_submit,
                "submitPerS": submits,
                "threads": THREADS,
                "bursts": rates,
                "cpuMs": cost,
            },
        )
    )


#: Takes in the film of the row of takes at the size of a real film.
FILM_TAKES = 10_000


def _film_takes(url: str, tmp: Path, table: Table, n: int) -> None:
    """`PER_SUBMIT` takes a submit through one worker process into a shot of a film of
    `FILM_TAKES` takes, against the same into a new project, one after the other."""
    print(f"takes/s, {n} takes, {PER_SUBMIT} a submit, into a film of {FILM_TAKES} takes")
    common: dict[str, Any] = {"noop": False, "per_submit": PER_SUBMIT, "bursts": BURSTS}
    small = _burst(url, tmp, "new-project", n, 1, TINY, **common).rates
    big, submits, _, cost = _burst(url, tmp, "film", n, 1, TINY, film=FILM_TAKES, **common)
    rate, base = statistics.median(big), statistics.median(small)
    table.add(
        Row(
            f"takes/s into a shot of a film of {FILM_TAKES:,} takes (1,000 shots), "
            f"{PER_SUBMIT} a submit, 1 worker process",
            rate,
            "/s",
            "the same into a new project",
            base,
            "≥ 150/s with one",
            ratio=rate / base,
            meets=rate >= 150,
            notes=f"the median of {len(big)} bursts ({min(big):.0f} to {max(big):.0f}/s); "
            f"{SUBMITTERS} clients submit {submits:.0f} takes/s; " + cpu.describe(cost, "still"),
            extra={
                "takes": n,
                "filmTakes": FILM_TAKES,
                "bursts": big,
                "baseline": small,
                "cpuMs": cost,
            },
        )
    )


#: How long a take of the scaling rows waits in its pipeline (a model on a GPU, say).
WAIT = 0.1


def bench_scaling(
    url: str, tmp: Path, table: Table, processes: tuple[int, ...] = (1, 2, 4)
) -> None:
    """Takes that wait in their pipeline (not on this machine's CPU, as on a GPU) through 1, 2
    and 4 worker processes of one warm pipeline process each: takes/s against the most those
    pipeline processes can give, worker processes / `WAIT`."""
    parameters: dict[str, object] = {"steps": 1, "pause": WAIT, "preview_every": 1000}
    for count in processes:
        n = 30 * count
        print(f"takes/s, {n} takes waiting {WAIT * 1000:.0f} ms, {count} worker process(es)")
        rates, submits, _, _ = _burst(
            url, tmp, "scaling", n, count, parameters, "paced", noop=False
        )
        rate = rates[0]
        ideal = count / WAIT
        table.add(
            Row(
                f"takes/s, takes that wait {WAIT * 1000:.0f} ms in the pipeline (a GPU's share), "
                f"{count} worker process(es)",
                rate,
                "/s",
                "the most their warm pipeline processes give: processes / wait",
                ideal,
                "grows with the worker processes (scale-out is Celery's)",
                ratio=rate / ideal,
                meets=rate / ideal >= 0.8,
                notes=f"one warm `paced` process each; {SUBMITTERS} clients submit {submits:.0f}/s",
                extra={"takes": n, "waitSeconds": WAIT, "threads": THREADS},
            )
        )


def bench_manifest_writes(url: str, tmp: Path, table: Table) -> None:
    """Locked, versioned, fsynced node writes vs a plain `json.dump` of the same file."""
    n = 300
    print(f"manifest, {n} node writes")
    ctx = TaskContext(studio_config(tmp / "mf"), url=url)
    ctx.core.manifests.on_write = None
    ctx.core.projects.create(ProjectCreate(name="Manifest"), STUDIO_AUTHOR)
    start = time.perf_counter()
    for i in range(n):
        ctx.core.manifests.update(
            "manifest", lambda p, i=i: hierarchy.add(p, NodeCreate(kind="chapter", name=str(i)))
        )
    studio = n / (time.perf_counter() - start)
    path = ctx.core.projects.path("manifest") / "project.json"
    data = json.loads(path.read_text())
    start = time.perf_counter()
    for _ in range(n):
        with open(tmp / "plain.json", "w") as fh:
            json.dump(data, fh)
    plain = n / (time.perf_counter() - start)
    table.add(
        Row(
            "manifest writes/s (locked, versioned, fsynced)",
            studio,
            "/s",
            "plain json.dump, no fsync",
            plain,
            "—",
            ratio=studio / plain,
        )
    )
