"""The notebook API: `Studio` for scripted production, with live anywidget widgets."""

from __future__ import annotations

from .errors import NoWorkerRunning, TaskCancelled, TaskError
from .studio import Studio

__all__ = ["NoWorkerRunning", "Studio", "TaskCancelled", "TaskError"]
