"""Pipeline programs in Docker containers attached over stdio (the docker SDK)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
from pathlib import Path, PurePosixPath
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound, NotFound
from docker.types import DeviceRequest, Mount

from ...core.projects import EXPORTS, RENDERS
from ..registry import PipelineSpec, TierSpec
from .base import Job, Launcher, PipelineFailure, PipelineProcess

log = logging.getLogger(__name__)
#: Where the project is mounted inside a container.
PROJECT_MOUNT = "/project"
#: Where the workspace's model library is mounted (read-only) inside a container.
MODELS_MOUNT = "/models"
_HEADER = struct.Struct(">BxxxL")


def docker_client(host: str = "") -> docker.DockerClient:
    """A client of the configured engine (`host`, else `DOCKER_HOST`, else the default socket)."""
    if host:
        return docker.DockerClient(base_url=host, timeout=30)
    return docker.from_env(timeout=30)


class DockerProcess(PipelineProcess):
    """A container of the tier's image, stdin and stdout attached, removed when retired.

    Only the project's render and export folders are writable; the rest of the project is
    mounted read-only, the root filesystem is read-only (a tmpfs at /tmp), the network is off
    unless the pipeline asks for it, memory is capped and GPUs requested as the tier says. The
    program runs as the worker's uid:gid with no capabilities, so what it writes into the
    project belongs to the worker, as a local process's files would.
    """

    kind = "docker"

    def __init__(
        self, client: docker.DockerClient, spec: PipelineSpec, job: Job, scope: str
    ) -> None:
        super().__init__(spec, job.quality, scope)
        self.client = client
        self.project_dir = job.project_dir.resolve()
        self.models_dir = job.models_dir.resolve() if job.models_dir else None
        self._exit: int | None = None
        tier = job.tier
        self.container = client.containers.create(
            tier.image,
            stdin_open=True,
            tty=False,
            network_mode="default" if spec.network else "none",
            network_disabled=not spec.network,
            mem_limit=tier.memory,
            memswap_limit=tier.memory,  # the tier's memory, not that much again in swap
            pids_limit=1024,
            device_requests=_gpus(tier),
            mounts=self._mounts(),
            user=_host_user(),
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": "size=512m,mode=1777"},  # noqa: S108 - inside the container
            environment={
                "GMS_TIER": job.quality.value,
                "GMS_MODELS_KEPT": os.environ.get("GMS_MODELS_KEPT", "1"),
                "GMS_PREVIEW_EVERY": os.environ.get("GMS_PREVIEW_EVERY", "0.2"),
                "PYTHONUNBUFFERED": "1",
                # the worker's uid has no account in the image: give caches a writable home
                "HOME": "/tmp",  # noqa: S108 - inside the container
            },
            labels={"gms.pipeline": spec.id, "gms.tier": job.quality.value, "gms.scope": scope},
        )
        try:
            # Attach before starting, as `docker run -i` does: nothing the program prints
            # early is lost, and no output can sit in the HTTP reader's buffer meanwhile.
            self._sock = self.container.attach_socket(
                params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._raw: socket.socket = getattr(self._sock, "_sock", self._sock)
            # A warm container may stay silent for longer than the API timeout.
            self._raw.settimeout(None)
            self.container.start()
        except BaseException:
            # A container that was created but cannot run (no GPU runtime, no such entry
            # point) must not linger.
            self.kill()
            raise
        threading.Thread(target=self._demux, daemon=True, name=f"docker-{spec.id}").start()

    def _mounts(self) -> list[Mount]:
        project = str(self.project_dir)
        mounts = [Mount(PROJECT_MOUNT, project, type="bind", read_only=True)]
        for folder in (RENDERS, EXPORTS):
            (self.project_dir / folder).mkdir(exist_ok=True)
            mounts.append(
                Mount(
                    f"{PROJECT_MOUNT}/{folder}", f"{project}/{folder}", type="bind", read_only=False
                )
            )
        if self.models_dir is not None and self.models_dir.is_dir():
            mounts.append(Mount(MODELS_MOUNT, str(self.models_dir), type="bind", read_only=True))
        return mounts

    def _demux(self) -> None:
        """Split Docker's multiplexed attach stream into stdout lines and stderr lines."""
        buffers = {1: b"", 2: b""}
        try:
            while True:
                header = _read_exact(self._raw, _HEADER.size)
                if header is None:
                    break
                stream, size = _HEADER.unpack(header)
                payload = _read_exact(self._raw, size)
                if payload is None:
                    break
                if stream not in buffers:
                    continue
                buffers[stream] += payload
                *lines, buffers[stream] = buffers[stream].split(b"\n")
                for raw in lines:
                    text = raw.decode("utf-8", "replace").rstrip("\r")
                    if stream == 1:
                        self._feed(text)
                    else:
                        self._feed(None, stderr=text)
        except OSError:
            pass
        finally:
            # a last stderr line without its newline is often the one that explains a crash
            if buffers[2]:
                self._feed(None, stderr=buffers[2].decode("utf-8", "replace"))
            self._feed(None)

    def send(self, line: str) -> None:
        self._raw.sendall(line.encode("utf-8") + b"\n")

    def alive(self) -> bool:
        if self._exit is not None:
            return False
        try:
            self.container.reload()
        except (DockerException, OSError):
            return False
        if self.container.status in ("exited", "dead"):
            self._exit = int(self.container.attrs["State"]["ExitCode"])
            return False
        return True

    def exit_code(self) -> int | None:
        self.alive()
        return self._exit

    def kill(self) -> None:
        sock = getattr(self, "_raw", None)
        if sock is not None:
            # shutdown, not just close: it wakes the demux thread blocked in recv, and the
            # HTTP reader's reference would otherwise keep the socket open
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self._sock.close()
            with contextlib.suppress(OSError):
                sock.close()
        with contextlib.suppress(DockerException, OSError):
            self.container.remove(force=True)

    def models_path(self, host_path: Path | None) -> str | None:
        if host_path is None or self.models_dir is None or not self.models_dir.is_dir():
            return None
        return MODELS_MOUNT

    def translate(self, host_path: Path) -> str:
        resolved = host_path.resolve()
        if not resolved.is_relative_to(self.project_dir):
            raise PipelineFailure(
                f"{host_path} is outside the project {self.project_dir}, so the container "
                "cannot see it.",
                "escape",
            )
        return str(PurePosixPath(PROJECT_MOUNT, resolved.relative_to(self.project_dir).as_posix()))


def _host_user() -> str:
    """The worker's uid:gid, which the container runs as (not the image's USER)."""
    return f"{os.getuid()}:{os.getgid()}"


def _gpus(tier: TierSpec) -> list[DeviceRequest] | None:
    return [DeviceRequest(count=-1, capabilities=[["gpu"]])] if tier.gpu else None


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class DockerLauncher(Launcher):
    """Starts pipelines as containers of the tier's image; a container serves one project."""

    kind = "docker"

    def __init__(self, host: str = "") -> None:
        self.host = host
        self._client: docker.DockerClient | None = None
        self._checked: tuple[float, bool] = (0.0, False)

    @property
    def client(self) -> docker.DockerClient:
        """The engine's client, made on first use."""
        if self._client is None:
            self._client = docker_client(self.host)
        return self._client

    def engine_ok(self, cache: float = 15.0) -> bool:
        """Whether an engine answers (remembered for `cache` seconds)."""
        when, ok = self._checked
        if time.monotonic() - when < cache:
            return ok
        try:
            ok = bool(self.client.ping())
        except (DockerException, OSError) as exc:
            log.debug("no Docker engine: %s", exc)
            self._client = None
            ok = False
        self._checked = (time.monotonic(), ok)
        return ok

    def has_image(self, image: str) -> bool:
        """Whether the engine has `image` locally (no registry is asked)."""
        try:
            self.client.images.get(image)
            return True
        except (ImageNotFound, NotFound):
            return False
        except (DockerException, OSError):
            return False

    def scope(self, job: Job) -> str:
        return str(job.project_dir.resolve())

    def start(self, spec: PipelineSpec, job: Job) -> PipelineProcess:
        if not self.engine_ok(cache=0):
            raise RuntimeError("no Docker engine answers (start dockerd, or set runner=local)")
        if not self.has_image(job.tier.image):
            raise RuntimeError(
                f"image {job.tier.image!r} is not on the Docker engine; build it with "
                f"`docker build -f {spec.id}/Dockerfile -t {job.tier.image} .` in pipelines/"
            )
        return DockerProcess(self.client, spec, job, self.scope(job))

    def info(self) -> dict[str, Any]:
        """Engine version for the health report."""
        version: dict[str, Any] = self.client.version()
        return version
