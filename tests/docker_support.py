"""A Docker engine and offline-built pipeline images for the tests that run real containers.

Use it as a plugin from a test module (``pytest_plugins = ["tests.docker_support"]``); it gives
two session fixtures:

- ``docker_engine``: the engine that answers (``DOCKER_HOST`` respected); when none does and we
  are root, a private ``dockerd`` started in temporary folders and stopped at the end.
- ``pipeline_images``: builds images on first request — the base ``gms-pipeline-base:1`` (Debian
  by ``debootstrap``, then ``docker import``: no image registry is needed) and a pipeline's image
  from its own Dockerfile, tagged as its ``pipeline.toml`` tiers name it.

Without an engine the tests are skipped with the reason, unless ``GMS_REQUIRE_DOCKER=1`` (CI),
which turns that into a failure. The base root filesystem is cached as a tarball in pytest's
cache (``pytest --cache-clear`` drops it), so only the first run pays for ``debootstrap``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import ssl
import subprocess
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import docker
import pytest
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container

from tests.services import REPO

PIPELINES = REPO / "pipelines"
BASE_IMAGE = "gms-pipeline-base:1"
#: The Debian release and packages of the one stand-in root filesystem: Python 3.11, Pillow and
#: ffmpeg (the pipelines' base), python3-venv (the stand-in of the `python` image) and
#: redis-server (the stand-in of the `redis` image).
BASE_SUITE = "bookworm"
BASE_PACKAGES = (
    "ca-certificates",
    "python3",
    "python3-venv",
    "python3-pil",
    "ffmpeg",
    "redis-server",
)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
REQUIRE = "GMS_REQUIRE_DOCKER"
#: Seconds each preparation step took this session, shown in the terminal summary.
TIMINGS: dict[str, float] = {}
#: Bytes each image built this session adds to its base, shown in the terminal summary.
SIZES: dict[str, int] = {}
#: The label of the stand-in images (a real image of the same name is never replaced).
STAND_IN_LABEL = "gms.stand-in"


def unavailable(reason: str) -> NoReturn:
    """Skip the test for `reason`, or fail it when Docker is required (``GMS_REQUIRE_DOCKER=1``)."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1, so this is a failure)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def timed(step: str) -> Iterator[None]:
    """Record how long `step` took in `TIMINGS`."""
    start = time.monotonic()
    try:
        yield
    finally:
        TIMINGS[step] = TIMINGS.get(step, 0.0) + time.monotonic() - start


def _unmount_below(folder: Path) -> None:
    """Unmount whatever is still mounted under `folder`, deepest first, so removing is safe.

    A crashed dockerd or debootstrap can leave overlays, /proc or a bind of /dev behind, and
    `shutil.rmtree` does not stop at mount points.
    """
    prefix = str(folder.resolve())
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return
    points = [line.split()[4] for line in lines if len(line.split()) > 4]
    below = [p for p in points if p == prefix or p.startswith(prefix + "/")]
    for point in sorted(set(below), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def remove_tree(folder: Path) -> None:
    """Unmount what is left under `folder`, then delete it."""
    if folder.exists():
        _unmount_below(folder)
        shutil.rmtree(folder, ignore_errors=True)


# --- the engine ----------------------------------------------------------------------------


def answering_client(host: str = "") -> docker.DockerClient | None:
    """A client of `host` (else ``DOCKER_HOST``, else the default socket) if its engine answers."""
    try:
        client = (
            docker.DockerClient(base_url=host, timeout=120)
            if host
            else docker.from_env(timeout=120)
        )
        if client.ping():
            return client
    except (DockerException, OSError):
        pass
    return None


class Dockerd:
    """A private Docker engine: ``dockerd`` with its data, state and socket in a temp folder.

    No iptables and no bridge (containers get `--network none` or the host's), which is all
    pipeline containers need and what a sandbox without netfilter allows.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.log = root / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """The engine's URL."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60) -> docker.DockerClient:
        """Start dockerd and wait until it answers; its client."""
        argv = [
            "dockerd",
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "dockerd.pid"),
            "-H", self.host,
            "--iptables=false",
            "--ip6tables=false",
            "--bridge=none",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            client = answering_client(self.host)
            if client is not None:
                return client
            time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"dockerd did not come up:\n{tail}")

    def log_tail(self, lines: int = 15) -> str:
        """The last lines dockerd logged."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop dockerd (its containers with it) and delete its folders."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        remove_tree(self.root)


@dataclass
class DockerEngine:
    """An engine the tests may use: its URL ("" for the environment's), a client, and the
    dockerd we started, if any."""

    host: str
    client: docker.DockerClient
    daemon: Dockerd | None = None

    def containers(self, *labels: str) -> list[Container]:
        """The containers, running or not, that carry every label (``"key"`` or ``"key=value"``)."""
        wanted = list(labels) or ["gms.pipeline"]
        found: list[Container] = self.client.containers.list(all=True, filters={"label": wanted})
        return found


@contextlib.contextmanager
def docker_engine_for_tests() -> Iterator[DockerEngine]:
    """The engine that answers, else a private dockerd (as root); skips or fails without one."""
    client = answering_client()
    if client is not None:
        # "" is the studio's own way to say "the engine DOCKER_HOST names" (TLS settings too)
        yield DockerEngine(host="", client=client)
        client.close()
        return
    if os.geteuid() != 0:
        unavailable("no Docker engine answers, and starting dockerd needs root")
    if shutil.which("dockerd") is None:
        unavailable("no Docker engine answers and dockerd is not installed (make system-test)")
    daemon = Dockerd(Path(tempfile.mkdtemp(prefix="gms-dockerd-")))
    try:
        with timed("dockerd start"):
            client = daemon.start()
    except RuntimeError as exc:
        unavailable(str(exc))
    try:
        yield DockerEngine(host=daemon.host, client=client, daemon=daemon)
    finally:
        client.close()
        daemon.stop()


# --- the base image ------------------------------------------------------------------------


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (``GMS_DEBIAN_MIRROR`` overrides it)."""
    chosen = os.environ.get("GMS_DEBIAN_MIRROR", "")
    if chosen:
        return chosen
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    files += sorted((apt / "sources.list.d").glob("*.sources"))
    for path in files:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        # one-line "deb [options] URI suite…" entries and deb822 "URIs:" fields alike
        uris: list[str] = re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, re.MULTILINE)
        uris += [u for line in re.findall(r"^URIs:(.*)$", text, re.MULTILINE) for u in line.split()]
        for uri in uris:
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def _ensure_debootstrap() -> None:
    if shutil.which("debootstrap"):
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        unavailable(f"{BASE_IMAGE} is missing and debootstrap is not installed")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env, check=False)
    if not shutil.which("debootstrap"):
        unavailable("debootstrap could not be installed with apt-get")


def build_base_tarball(tarball: Path) -> None:
    """A gzipped root filesystem of Debian with Python 3 (also as `python`), Pillow and ffmpeg."""
    if os.geteuid() != 0:
        unavailable(f"{BASE_IMAGE} is missing and building it with debootstrap needs root")
    _ensure_debootstrap()
    work = Path(tempfile.mkdtemp(prefix="gms-base-", dir=tarball.parent))
    rootfs = work / "rootfs"
    try:
        argv = ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"]
        run = subprocess.run(
            [*argv, BASE_SUITE, str(rootfs), debian_mirror()], capture_output=True, text=True
        )
        if run.returncode != 0:
            tail = "\n".join((run.stdout + run.stderr).splitlines()[-15:])
            raise RuntimeError(f"debootstrap failed:\n{tail}")
        _unmount_below(rootfs)
        # what a runtime image never reads: downloaded packages, apt lists, documentation
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc"):
            for child in (rootfs / junk).glob("*"):
                if child.is_file() or child.is_symlink():
                    child.unlink()
                else:
                    shutil.rmtree(child)
        for junk in ("usr/share/man", "usr/share/info", "usr/share/locale"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        python = rootfs / "usr/bin/python"
        if not python.exists():
            python.symlink_to("python3")
        partial = work / "rootfs.tar.gz"
        with partial.open("wb") as out:
            tar = subprocess.Popen(
                ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", "-", "."],
                stdout=subprocess.PIPE,
            )
            subprocess.run(["gzip", "-1"], stdin=tar.stdout, stdout=out, check=True)
            if tar.wait() != 0:
                raise RuntimeError("tar of the base root filesystem failed")
        partial.replace(tarball)
    finally:
        remove_tree(work)


def import_base(client: docker.DockerClient, tarball: Path) -> None:
    """Import the root filesystem tarball as the base image."""
    repository, tag = BASE_IMAGE.split(":")
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
    ]
    client.api.import_image_from_file(str(tarball), repository=repository, tag=tag, changes=changes)


# --- pipeline images -----------------------------------------------------------------------


def image_tags(pipeline_dir: Path) -> list[str]:
    """The images a pipeline's tiers run, from its pipeline.toml."""
    manifest = tomllib.loads((pipeline_dir / "pipeline.toml").read_text(encoding="utf-8"))
    return sorted({tier["image"] for tier in manifest["tiers"].values()})


def _build_context(pipeline_dir: Path) -> io.BytesIO:
    """pipelines/' shared modules plus one pipeline folder: the context its Dockerfile expects."""
    buffer = io.BytesIO()

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if "__pycache__" in info.name else info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for module in sorted(PIPELINES.glob("*.py")):
            tar.add(module, arcname=module.name, filter=keep)
        tar.add(pipeline_dir, arcname=pipeline_dir.name, filter=keep)
    buffer.seek(0)
    return buffer


@dataclass
class PipelineImages:
    """Builds the base and pipeline images on an engine, each at most once per session."""

    engine: DockerEngine
    cache: Path
    built: dict[str, list[str]] = field(default_factory=dict)
    _base_ready: bool = False

    def base(self) -> str:
        """Make sure the base image exists: reuse it, else import the cached tarball, else
        debootstrap one. Its tag."""
        if self._base_ready:
            return BASE_IMAGE
        client = self.engine.client
        try:
            client.images.get(BASE_IMAGE)
        except ImageNotFound:
            key = "-".join([BASE_SUITE, *BASE_PACKAGES])
            tarball = self.cache / f"gms-pipeline-base-{key}.tar.gz"
            if not tarball.is_file():
                with timed("base rootfs (debootstrap)"):
                    build_base_tarball(tarball)
            with timed("base image import"):
                import_base(client, tarball)
        with timed("base image check"):
            client.containers.run(
                BASE_IMAGE,
                ["python", "-c", "import PIL, shutil, sys; assert shutil.which('ffmpeg')"],
                network_mode="none",
                remove=True,
            )
        self._base_ready = True
        return BASE_IMAGE

    def pipeline(self, pipeline_id: str, root: Path = PIPELINES) -> list[str]:
        """Build `root/<pipeline_id>/Dockerfile` on the base; the image tags its tiers use."""
        key = str(root / pipeline_id)
        if key in self.built:
            return self.built[key]
        base = self.base()
        pipeline_dir = root / pipeline_id
        tags = image_tags(pipeline_dir)
        options = {
            "dockerfile": f"{pipeline_id}/Dockerfile",
            "buildargs": {"BASE": base},
            "tag": tags[0],
            "rm": True,
            "forcerm": True,
        }
        with timed(f"image {tags[0]}"):
            if root == PIPELINES:  # the real context, as compose and CI build it
                image, _ = self.engine.client.images.build(path=str(PIPELINES), **options)
            else:
                context = _build_context(pipeline_dir)
                image, _ = self.engine.client.images.build(
                    fileobj=context, custom_context=True, **options
                )
        for other in tags[1:]:
            repository, _, tag = other.rpartition(":")
            image.tag(repository, tag)
        self.built[key] = tags
        return tags


# --- stand-ins of the registry images that docker/ builds on ---------------------------------

DOCKER_DIR = REPO / "docker"

#: As the official redis image: protected mode off (its build turns it off), so that the other
#: containers of the compose network may connect.
_REDIS_ENTRYPOINT = """#!/bin/sh
if [ "$1" = redis-server ]; then set -- "$@" --protected-mode no; fi
exec "$@"
"""


def registry_images() -> dict[str, str]:
    """The registry images docker/ starts from, by role: the Dockerfile's ``*_IMAGE`` defaults
    (python, node) and the image of compose's redis service."""
    dockerfile = (DOCKER_DIR / "Dockerfile").read_text(encoding="utf-8")
    args = dict(re.findall(r"^ARG (\w+)_IMAGE=(\S+)$", dockerfile, re.MULTILINE))
    compose = (DOCKER_DIR / "compose.yaml").read_text(encoding="utf-8")
    [redis] = re.findall(r"^\s+image: (redis:\S+)$", compose, re.MULTILINE)
    return {"python": args["PYTHON"], "node": args["NODE"], "redis": redis}


def host_ca_bundle() -> Path:
    """The CA bundle this host trusts (what its pip and node are told to use)."""
    for name in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        chosen = os.environ.get(name, "")
        if chosen and Path(chosen).is_file():
            return Path(chosen)
    return Path(ssl.get_default_verify_paths().openssl_cafile)


def _context(files: dict[str, tuple[bytes | Path, int]]) -> io.BytesIO:
    """A build context holding `files` (name → (content or a file to read, mode))."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (content, mode) in files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@dataclass
class StandInBases:
    """Offline stand-ins, tagged with the registry names docker/ uses, all from the one base.

    - python: the base with a venv at ``/usr/local`` (``python``, ``pip`` on PATH, as in the
      official image) and the host's CA bundle for pip and node, so builds reach the registries;
    - node: ``/usr/local/bin/node``, this host's Node binary;
    - redis: the base's ``redis-server`` and ``redis-cli``, data in ``/data``.
    """

    images: PipelineImages
    made: dict[str, str] = field(default_factory=dict)

    def build(self) -> dict[str, str]:
        """Make the stand-ins (unless the engine has the real images); role → tag."""
        if self.made:
            return self.made
        base = self.images.base()
        tags = registry_images()
        node = shutil.which("node")
        if node is None:
            unavailable("node is not installed, and the node stand-in copies this host's")
        dockerfiles = {
            "python": (
                f"FROM {base}\n"
                "COPY host-ca.crt /etc/ssl/certs/host-ca.crt\n"
                "ENV PIP_CERT=/etc/ssl/certs/host-ca.crt \\\n"
                "    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca.crt \\\n"
                "    SSL_CERT_FILE=/etc/ssl/certs/host-ca.crt\n"
                "RUN python3 -m venv /usr/local && pip --version\n",
                {"host-ca.crt": (host_ca_bundle(), 0o644)},
            ),
            "node": (
                "FROM scratch\nCOPY node /usr/local/bin/node\n",
                {"node": (Path(node).resolve(), 0o755)},
            ),
            "redis": (
                f"FROM {base}\n"
                "COPY entrypoint /usr/local/bin/docker-entrypoint.sh\n"
                "WORKDIR /data\nVOLUME /data\nEXPOSE 6379\n"
                'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["redis-server"]\n',
                {"entrypoint": (_REDIS_ENTRYPOINT.encode(), 0o755)},
            ),
        }
        client = self.images.engine.client
        for role, (dockerfile, files) in dockerfiles.items():
            try:
                if STAND_IN_LABEL not in (client.images.get(tags[role]).labels or {}):
                    self.made[role] = tags[role]  # the real image is there: use it
                    continue
            except ImageNotFound:
                pass
            dockerfile += f"LABEL {STAND_IN_LABEL}=1\n"
            with timed(f"stand-in {role}"):
                context = _context({"Dockerfile": (dockerfile.encode(), 0o644), **files})
                client.images.build(
                    fileobj=context, custom_context=True, tag=tags[role], rm=True, forcerm=True
                )
            self.made[role] = tags[role]
        return self.made


# --- fixtures and report -------------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """A Docker engine for this session (a private dockerd when none answers)."""
    with docker_engine_for_tests() as engine:
        yield engine


@pytest.fixture(scope="session")
def pipeline_images(docker_engine: DockerEngine, request: pytest.FixtureRequest) -> PipelineImages:
    """The image builder of this session; the base rootfs tarball is kept in pytest's cache."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        folder = Path(cache.mkdir("gms-docker"))
    else:
        folder = request.getfixturevalue("tmp_path_factory").mktemp("gms-docker")
    return PipelineImages(docker_engine, folder)


@pytest.fixture(scope="session")
def stand_in_bases(pipeline_images: PipelineImages) -> StandInBases:
    """The registry images docker/ builds on, made offline from the pipelines' base."""
    stand_ins = StandInBases(pipeline_images)
    stand_ins.build()
    return stand_ins


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how long the engine and the images took, so slow preparation is visible."""
    if TIMINGS:
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in TIMINGS.items())
        terminalreporter.write_line(f"docker preparation: {steps}")
    if SIZES:
        sizes = ", ".join(f"{name} +{size / 1e6:.0f} MB" for name, size in SIZES.items())
        terminalreporter.write_line(f"image sizes (above their base): {sizes}")
