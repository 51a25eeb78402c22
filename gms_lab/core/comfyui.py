"""Whether the ComfyUI server the studio points at answers, for the health report."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from ..models import ToolHealth

#: Seconds the health check waits for ComfyUI (the workspace config waits for it).
TIMEOUT = 2.0


def comfyui_health(url: str, timeout: float = TIMEOUT) -> ToolHealth:
    """ComfyUI's version and device from `GET /system_stats`, or why it does not answer."""
    try:
        address = f"{url.rstrip('/')}/system_stats"
        with urllib.request.urlopen(address, timeout=timeout) as answer:
            stats = json.loads(answer.read(1 << 20))
    except urllib.error.HTTPError as exc:
        return ToolHealth(
            ok=False, message=f"{url} answered {exc.code} {exc.reason}: is it ComfyUI?"
        )
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError):
            reason = "connection refused"
        elif isinstance(reason, TimeoutError):
            reason = "no answer"
        return ToolHealth(
            ok=False,
            message=f"No ComfyUI answers at {url} ({reason}); the setting comfyui_url "
            "(GMS_COMFYUI_URL) says where it runs.",
        )
    system = stats.get("system") if isinstance(stats, dict) else None
    if not isinstance(system, dict):
        return ToolHealth(ok=False, message=f"{url} answers, but not as ComfyUI does.")
    devices = stats.get("devices") or [{}]
    device = devices[0].get("name") if isinstance(devices[0], dict) else None
    return ToolHealth(
        ok=True,
        version=str(system.get("comfyui_version") or "unknown"),
        message=f"{url}" + (f" on {device}" if device else ""),
    )
