"""Real services for the tests: a redis-server and Celery workers, started and stopped here."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.embedded import free_port, worker_command
from gms_lab.models import NodeCreate, Project, ProjectCreate
from gms_lab.tasks.celery_app import make_celery, sender
from gms_lab.tasks.context import TaskContext
from gms_lab.tasks.records import TaskRecords
from gms_lab.tasks.service import TaskService

REPO = Path(__file__).resolve().parent.parent
TEST_PIPELINES = REPO / "tests" / "fixtures" / "pipelines"
#: Seconds the tests' workers give a pipeline to answer a cancel (the default is 10).
CANCEL_GRACE = 2.0
#: The parameters of a tiny `still` take: a few milliseconds to paint.
TINY_STILL = {"prompt": "a quay", "width": 16, "height": 16, "steps": 1}


def wait_until(check: object, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll `check()` until it is true, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s: {check}")
        time.sleep(interval)


async def wait_until_async(check: object, timeout: float = 20.0, interval: float = 0.05) -> None:
    """`wait_until` for tests that share the event loop with the server: the loop keeps running."""
    deadline = time.monotonic() + timeout
    while True:
        if check():  # type: ignore[operator]
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s: {check}")
        await asyncio.sleep(interval)


class RedisProcess:
    """A real redis-server on a loopback port of its own (AOF on): kill it, pause it, restart it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its Redis URL (the same across restarts)."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProcess:
        """Start it (again, on the same port and data) and wait until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self.folder.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        argv += ["--appendonly", "yes", "--save", ""]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, 15)
        return self

    def answers(self) -> bool:
        """Whether it answers a PING within a second."""
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: it holds its connections but answers nothing."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop it for good."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(timeout=10)


@contextlib.contextmanager
def redis_process(folder: Path) -> Iterator[RedisProcess]:
    """A `RedisProcess`, started, and stopped at the end."""
    server = RedisProcess(folder).start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, AOF on; yields its URL."""
    with redis_process(folder) as server:
        yield server.url


class Worker:
    """A real Celery worker of the studio, as a subprocess; can be killed and restarted."""

    def __init__(self, config: StudioConfig, url: str, log: Path, concurrency: int = 1) -> None:
        self.config = config.model_copy(update={"worker_concurrency": concurrency})
        self.url = url
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.name = ""

    def start(self, name: str | None = None) -> Worker:
        """Start the worker (under `name`, or one of its own) and wait until it announces
        itself."""
        self.name = name or f"test-{os.getpid()}-{time.monotonic_ns()}@localhost"
        env = {**os.environ, **self.config.to_env(), "GMS_BROKER_URL": self.url}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                worker_command(self.config, self.name),
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        records = TaskRecords(redis.Redis.from_url(self.url))
        wait_until(lambda: self.name in records.live_workers(), 60)
        return self

    def kill(self) -> None:
        """kill -9 the worker's main process (its pool processes die with it)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def studio_config(workspace: Path, **overrides: object) -> StudioConfig:
    """Settings for tests: the workspace, the shipped and the test pipelines, quick commits."""
    values: dict[str, object] = {
        "workspace": workspace,
        "pipelines_path": [REPO / "pipelines", TEST_PIPELINES],
        "auto_commit_delay": 0.5,
        "cancel_grace": CANCEL_GRACE,
        "runner": "local",
        "watch": False,
        **overrides,
    }
    return StudioConfig.from_env(values, env={})


def task_service(config: StudioConfig, url: str) -> TaskService:
    """The task service as the server builds it: records in Redis, tasks sent through Celery."""
    ctx = TaskContext(config, url=url)
    celery = make_celery(config, url)
    return TaskService(ctx, sender(celery))


def project_with_shot(core: StudioCore, name: str) -> tuple[str, str]:
    """A new project with one chapter, scene and shot: (project id, shot id)."""
    project = core.projects.create(ProjectCreate(name=name), STUDIO_AUTHOR)

    def build(p: Project) -> str:
        ch = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
        sc = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="B")).node.id
        return hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="C")).node.id

    _, shot = core.manifests.update(project.id, build)
    return project.id, shot


class ServerProcess:
    """A real `jupyter server` with the studio loaded, as a subprocess: measured, killed, restarted.

    Its settings come from the environment (`StudioConfig.to_env`), its Jupyter config and
    runtime folders are its own, and it is reached with a token.
    """

    def __init__(self, config: StudioConfig, log: Path) -> None:
        self.config = config
        self.log = log
        self.port = 0
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def headers(self) -> dict[str, str]:
        """What authenticates a request."""
        return {"Authorization": f"token {self.token}"}

    def api(self, path: str) -> str:
        """The URL of a studio route (`projects/x`)."""
        return f"{self.url}gms/api/{path}"

    def ws_url(self, project_id: str) -> str:
        """The project's WebSocket URL, token included."""
        return f"ws://127.0.0.1:{self.port}/gms/ws/{project_id}?token={self.token}"

    def start(self) -> ServerProcess:
        """Start it and wait until the studio's services are up."""
        import requests

        self.port = free_port()
        home = self.log.parent / f"jupyter-{self.port}"
        (home / "config").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.config.to_env()}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
        env["JUPYTER_CONFIG_DIR"] = str(home / "config")
        env["JUPYTER_RUNTIME_DIR"] = str(home / "runtime")
        argv = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root"]
        argv += ["--ip=127.0.0.1", f"--port={self.port}", f"--IdentityProvider.token={self.token}"]
        argv += ["--ServerApp.port_retries=0"]
        with open(self.log, "ab") as fh:
            self.proc = subprocess.Popen(
                argv, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
            )

        def up() -> bool:
            assert self.proc is not None
            assert self.proc.poll() is None, f"the server exited; see {self.log}"
            try:
                answer = requests.get(self.api("workspace/config"), headers=self.headers, timeout=2)
            except requests.RequestException:
                return False
            return answer.status_code == 200 and answer.json()["health"]["redis"]["ok"]

        wait_until(up, 60, 0.2)
        return self

    def rss(self) -> int:
        """Its resident memory in bytes."""
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def kill(self) -> None:
        """kill -9."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
