"""Benchmarks: `make bench` (`python -m tests.bench`). Each prints a ratio to a baseline run here.

- upload: the studio's streamed upload vs Jupyter's contents API (base64 chunks) and `cp`;
- events: worker → WebSocket latency of a progress event vs a raw Redis pub/sub round trip;
- tasks: submit → running latency and takes/s through a warm pipeline vs a no-op Celery task;
- manifest: locked, versioned, fsynced node writes vs a plain `json.dump` of the same file.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import requests
from tornado.websocket import websocket_connect

from gms_lab.core import hierarchy
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.embedded import free_port
from gms_lab.models import NodeCreate, ProjectCreate, TaskSubmit
from gms_lab.tasks.celery_app import make_celery
from gms_lab.tasks.context import TaskContext
from tests.services import (
    REPO,
    TEST_PIPELINES,
    Worker,
    project_with_shot,
    redis_server,
    studio_config,
    task_service,
    wait_until,
)

TOKEN = "bench-token"
MiB = 1024 * 1024


def line(name: str, value: str, baseline: str, ratio: float) -> None:
    print(f"  {name:<44} {value:>16}   baseline {baseline:>16}   ratio {ratio:6.2f}")


@contextmanager
def jupyter(workspace: Path, url: str, root: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "server",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={'gms_lab': True}",
            f"--GMSLab.workspace={workspace}",
            f"--GMSLab.broker_url={url}",
            "--GMSLab.watch=False",
            "--GMSLab.max_upload_bytes=4294967296",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/api/status", headers=auth(), timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(up, 30)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def auth() -> dict[str, str]:
    return {"Authorization": f"token {TOKEN}"}


def bench_upload(base: str, root: Path, tmp: Path) -> None:
    size = 256 * MiB
    data = os.urandom(size)
    source = tmp / "big.bin"
    source.write_bytes(data)
    print(f"upload of {size // MiB} MiB")
    start = time.perf_counter()
    shutil.copyfile(source, tmp / "copy.bin")
    cp = size / MiB / (time.perf_counter() - start)

    requests.post(f"{base}/gms/api/projects", json={"name": "Bench"}, headers=auth(), timeout=30)
    start = time.perf_counter()
    with open(source, "rb") as fh:
        answer = requests.post(
            f"{base}/gms/api/projects/bench/files",
            params={"category": "music", "name": "big.wav"},
            data=fh,
            headers=auth(),
            timeout=300,
        )
    assert answer.status_code == 201, answer.text
    studio = size / MiB / (time.perf_counter() - start)

    chunk = MiB
    start = time.perf_counter()
    for i, offset in enumerate(range(0, size, chunk), start=1):
        last = offset + chunk >= size
        body = {
            "type": "file",
            "format": "base64",
            "chunk": -1 if last else i,
            "content": base64.b64encode(data[offset : offset + chunk]).decode(),
        }
        r = requests.put(f"{base}/api/contents/big.bin", json=body, headers=auth(), timeout=60)
        assert r.ok, r.text
    contents = size / MiB / (time.perf_counter() - start)
    line(
        "studio upload vs Jupyter contents API",
        f"{studio:.0f} MB/s",
        f"{contents:.0f} MB/s",
        studio / contents,
    )
    line("studio upload vs cp", f"{studio:.0f} MB/s", f"{cp:.0f} MB/s", studio / cp)


async def _ws_latency(base: str, url: str, project: str, n: int) -> list[float]:
    ws_url = base.replace("http", "ws") + f"/gms/ws/{project}?token={TOKEN}"
    conn = await websocket_connect(ws_url)
    await conn.read_message()  # hello
    client = redis.Redis.from_url(url)
    samples = []
    for i in range(n):
        sent = time.perf_counter()
        event = {
            "type": "task_progress",
            "taskId": "bench",
            "nodeId": "x",
            "progress": i / n,
            "step": "bench",
            "status": "running",
            "seq": i,
        }
        client.publish(f"gms:events:{project}", json.dumps(event))
        while True:
            got = json.loads(await conn.read_message())
            if got.get("taskId") == "bench" and got["seq"] == i:
                break
        samples.append(time.perf_counter() - sent)
    conn.close()
    return samples


def bench_events(base: str, url: str) -> None:
    n = 2000
    print(f"event latency, {n} events")
    samples = asyncio.run(_ws_latency(base, url, "bench", n))
    client = redis.Redis.from_url(url)
    sub = client.pubsub()
    sub.subscribe("bench-raw")
    sub.get_message(timeout=1)
    raw = []
    for _ in range(n):
        sent = time.perf_counter()
        client.publish("bench-raw", "x")
        while sub.get_message(timeout=1) is None:
            pass
        raw.append(time.perf_counter() - sent)
    p50, p95 = statistics.median(samples), statistics.quantiles(samples, n=20)[-1]
    r50 = statistics.median(raw)
    line(
        "publish → WebSocket p50 vs raw pub/sub p50",
        f"{p50 * 1e3:.2f} ms",
        f"{r50 * 1e3:.2f} ms",
        p50 / r50,
    )
    print(f"  {'publish → WebSocket p95':<44} {p95 * 1e3:>13.2f} ms")


def bench_tasks(url: str, tmp: Path) -> None:
    n = 100
    print(f"tasks, {n} takes through one warm pipeline process")
    config = studio_config(
        tmp / "ws-tasks", pipelines_path=[REPO / "pipelines", TEST_PIPELINES], auto_commit=False
    )
    worker = Worker(config, url, tmp / "bench-worker.log").start()
    try:
        service = task_service(config, url)
        ctx = service.ctx
        celery = make_celery(config, url)
        _, shot = project_with_shot(ctx.core, "Bench")
        request = TaskSubmit(project_id="bench", node_id=shot, pipeline="slow")
        service.submit(request)  # warm the process
        latencies = []
        for _ in range(n):  # one at a time: the worker is idle when each is submitted
            sent = time.perf_counter()
            record = service.submit(request)
            wait_until(
                lambda r=record: ctx.records.get(r.task_id).status.value != "pending", 30, 0.0005
            )
            latencies.append(time.perf_counter() - sent)
            wait_until(lambda r=record: ctx.records.get(r.task_id).status.finished, 30, 0.001)
        start = time.perf_counter()
        ids = [service.submit(request).task_id for _ in range(n)]  # a burst
        wait_until(lambda: all(ctx.records.get(i).status.finished for i in ids), 120, 0.01)
        takes_per_s = n / (time.perf_counter() - start)

        raw = []
        for i in range(n):
            key = f"bench:ping:{i}"
            sent = time.perf_counter()
            celery.send_task("gms.ping", args=[key])
            wait_until(lambda k=key: ctx.redis.exists(k), 30, 0.0005)
            raw.append(time.perf_counter() - sent)
        p50 = statistics.median(latencies)
        line(
            "submit → running p50 vs no-op Celery task",
            f"{p50 * 1e3:.1f} ms",
            f"{statistics.median(raw) * 1e3:.1f} ms",
            p50 / statistics.median(raw),
        )
        print(f"  {'takes/s through one warm process':<44} {takes_per_s:>16.1f}")
    finally:
        worker.stop()


def bench_manifest(url: str, tmp: Path) -> None:
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
    line(
        "locked+fsynced writes/s vs plain json.dump",
        f"{studio:.0f}/s",
        f"{plain:.0f}/s",
        studio / plain,
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gms-bench-") as name:
        tmp = Path(name)
        with redis_server(tmp / "redis") as url:
            (tmp / "root").mkdir()
            with jupyter(tmp / "ws", url, tmp / "root") as base:
                bench_upload(base, tmp / "root", tmp)
                bench_events(base, url)
            bench_tasks(url, tmp)
            bench_manifest(url, tmp)


if __name__ == "__main__":
    main()
