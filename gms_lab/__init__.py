"""Generative Media Studio: a JupyterLab server extension, a Celery worker app, a notebook API."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["Studio", "__version__"]


def __getattr__(name: str) -> Any:
    # the notebook API pulls in Celery and widgets: load it only when asked for
    if name == "Studio":
        from .notebook import Studio

        return Studio
    raise AttributeError(name)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "gms-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import GMSLab

    return [{"module": "gms_lab", "app": GMSLab}]
