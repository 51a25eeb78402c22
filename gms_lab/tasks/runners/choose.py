"""Which runner a job gets: `local`, `docker`, or `auto` (Docker when the engine has the image)."""

from __future__ import annotations

from ...config import RunnerKind
from ..registry import PipelineSpec
from .base import Job, Launcher
from .containers import DockerLauncher
from .local import LocalLauncher
from .runner import LauncherChooser


def launcher_chooser(runner: RunnerKind, docker_host: str = "") -> LauncherChooser:
    """A chooser for the configured runner kind."""
    local = LocalLauncher()
    container = DockerLauncher(docker_host)

    def choose(spec: PipelineSpec, job: Job) -> Launcher:
        if runner == "local":
            return local
        if runner == "docker":
            return container
        if container.engine_ok() and container.has_image(job.tier.image):
            return container
        return local

    return choose
