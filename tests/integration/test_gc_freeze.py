"""The server and a worker leave their start-up objects out of the collector's full passes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.services import ServerProcess, Worker, studio_config, wait_until

FROZEN = re.compile(r"(server|worker|pool process)(?: \S+)?: (\d+) start-up objects left out")


def frozen(log: Path) -> dict[str, int]:
    """What the process logged it froze, by who."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return {who: int(count) for who, count in FROZEN.findall(text)}


def test_the_server_and_a_worker_freeze_what_starting_made(redis_url: str, tmp_path: Path) -> None:
    config = studio_config(tmp_path / "ws", broker_url=redis_url, auto_commit=False)
    # a partial file a crash left: the server removes it as it starts, and says so
    (tmp_path / "ws" / ".gms").mkdir(parents=True)
    (tmp_path / "ws" / ".gms" / ".runtime.json.4242.0badcafe.tmp").write_text("{")
    server = ServerProcess(config, tmp_path / "server.log").start()
    worker = Worker(config, redis_url, tmp_path / "worker.log").start()
    try:
        wait_until(lambda: "server" in frozen(server.log), 30, 0.1)
        wait_until(lambda: "worker" in frozen(worker.log), 30, 0.1)
        # a Jupyter server's and a Celery worker's imports: far more than a handful
        assert frozen(server.log)["server"] > 50_000
        # the studio's own module loggers write through the server's, in its format
        assert re.search(
            r"\[I [^]]* gms_lab\.server\] Generative Studio: removed 1 partial files",
            server.log.read_text(),
        ), server.log.read_text()[-3000:]
        assert frozen(worker.log)["worker"] > 50_000
    finally:
        worker.stop()
        server.stop()
    # a prefork worker: its pool process, which runs the tasks, freezes what it was forked with
    forked = studio_config(tmp_path / "ws3", broker_url=redis_url, worker_pool="prefork")
    prefork = Worker(forked, redis_url, tmp_path / "prefork.log").start()
    try:
        wait_until(lambda: "pool process" in frozen(prefork.log), 30, 0.1)
        assert frozen(prefork.log)["pool process"] > 50_000
    finally:
        prefork.stop()
    off = studio_config(tmp_path / "ws2", broker_url=redis_url, gc_freeze=False)
    quiet = Worker(off, redis_url, tmp_path / "quiet.log").start()
    quiet.stop()
    assert frozen(quiet.log) == {}


def test_what_is_made_after_the_freeze_is_collected_as_before() -> None:
    """In a process of its own (a freeze is for the whole process): new cycles are still
    collected (the young generation less often), and a frozen object nothing refers to any
    more is still freed."""
    code = """
import gc, weakref
from gms_lab.gcfreeze import YOUNG, freeze_startup

class Node:
    pass

kept = Node()
seen = weakref.ref(kept)
count, took = freeze_startup()
assert count > 1000 and gc.get_freeze_count() == count and took > 0
assert gc.get_threshold()[0] == YOUNG  # the young generation is passed over less often
del kept
assert seen() is None, "a frozen object nothing refers to is freed"
for _ in range(100):
    a, b = Node(), Node()
    a.other, b.other = b, a
cycle = weakref.ref(a)
del a, b
assert gc.collect() >= 200 and cycle() is None, "cycles made later are collected"
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
