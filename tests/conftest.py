"""Fixtures shared by every test: real Redis and Celery workers, real Jupyter servers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services import REPO, TEST_PIPELINES, Worker, redis_server, studio_config

pytest_plugins = ["pytest_jupyter.jupyter_server", "tests.docker_support"]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server for the whole test session."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def task_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace the session's worker serves (projects get unique names per test)."""
    return tmp_path_factory.mktemp("task-workspace")


@pytest.fixture(scope="session")
def worker(redis_url: str, task_workspace: Path) -> Iterator[Worker]:
    """A real Celery worker of the studio (one process, so warm pipelines are observable).
    Its pipelines preview every few steps however quick the steps (`preview_every` 0): the
    tests' tiny takes last less than the default's first 0.2 s (`test_diffusion.py` tests that
    pace on the pipeline itself)."""
    config = studio_config(task_workspace, preview_every=0.0)
    running = Worker(config, redis_url, task_workspace.parent / "worker.log").start()
    yield running
    running.stop()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace root for one test."""
    return tmp_path / "workspace"


@pytest.fixture
def studio_settings() -> dict[str, Any]:
    """Extra `c.GMSLab.*` settings a test module wants (override in the module)."""
    return {}


@pytest.fixture
def jp_server_config(
    workspace: Path, redis_url: str, studio_settings: dict[str, Any]
) -> dict[str, Any]:
    """The Jupyter server under test loads the studio on the test's workspace and Redis."""
    return {
        "ServerApp": {"jpserver_extensions": {"gms_lab": True}},
        "GMSLab": {
            "workspace": str(workspace),
            "broker_url": redis_url,
            "watch": False,
            # the server runs inside pytest here: it must not freeze the test process's objects
            "gc_freeze": False,
            "runner": "local",
            "pipelines_path": [str(REPO / "pipelines"), str(TEST_PIPELINES)],
            **studio_settings,
        },
    }


@pytest.fixture
def jp_serverapp(jp_serverapp: Any, jp_asyncio_loop: Any) -> Any:
    """The server under test, with its extensions started as `jupyter lab` starts them."""
    jp_asyncio_loop.run_until_complete(jp_serverapp.extension_manager.start_all_extensions())
    return jp_serverapp


class Api:
    """A small client of the studio's REST API over `jp_fetch`: answers (status, JSON body)."""

    def __init__(self, fetch: Any) -> None:
        self.fetch = fetch

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        parts = ["gms", "api", *[p for p in path.split("/") if p]]
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if data is None and method in ("POST", "PATCH", "PUT"):
            data = b""
        response = await self.fetch(
            *parts,
            method=method,
            body=data,
            headers=headers or {},
            params=params or {},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        text = response.body or b""
        ctype = response.headers.get("Content-Type", "")
        return response.code, json.loads(text) if "json" in ctype and text else text


@pytest.fixture
def api(jp_fetch: Any) -> Api:
    """The studio's REST API of the server under test."""
    return Api(jp_fetch)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the reliability figures the tests recorded (see `tests/figures.py`)."""
    from tests import figures

    lines = figures.report(REPO / "test-results")
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
