"""Where the running services are: `<workspace>/.gms/runtime.json`, written by the server."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .config import StudioConfig
from .core.errors import ServiceUnavailable
from .core.files import atomic_write


def runtime_file(workspace: Path) -> Path:
    """The runtime file of a workspace."""
    return workspace / ".gms" / "runtime.json"


def write_runtime(workspace: Path, data: dict[str, Any]) -> None:
    """Say where the broker and worker are, for notebooks and the command line."""
    path = runtime_file(workspace)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data, indent=2).encode("utf-8"))


def read_runtime(workspace: Path) -> dict[str, Any]:
    """What the running server wrote, or {} when none runs (or the file is stale)."""
    path = runtime_file(workspace)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    pid = data.get("serverPid")
    if isinstance(pid, int) and not _running(pid):
        return {}
    return data


def clear_runtime(workspace: Path) -> None:
    """Remove the runtime file when the services stop."""
    runtime_file(workspace).unlink(missing_ok=True)


def broker_url(config: StudioConfig) -> str:
    """The Redis URL: configured, else the running server's embedded Redis."""
    if config.broker_url:
        return config.broker_url
    url = read_runtime(config.workspace).get("brokerUrl")
    if isinstance(url, str) and url:
        return url
    raise ServiceUnavailable(
        "No broker is configured and no studio server is running for workspace "
        f"{config.workspace}. Start one with `make dev` (or `jupyter lab`), or set "
        "GMS_BROKER_URL to a Redis URL.",
        {"workspace": str(config.workspace)},
    )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
