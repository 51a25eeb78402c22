"""Generative Media Studio: a JupyterLab server extension, a Celery worker app, a notebook API."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "gms-lab"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import GMSLab

    return [{"module": "gms_lab", "app": GMSLab}]
