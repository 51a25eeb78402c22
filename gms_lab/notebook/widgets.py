"""Live widgets (anywidget): task progress, and a take gallery to pick a shot's take."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anywidget
import traitlets

STATIC = Path(__file__).parent / "static"


class TaskProgress(anywidget.AnyWidget):
    """Progress bars of one or many tasks, with their pipeline's step text; live."""

    _esm = STATIC / "progress.js"
    _css = STATIC / "widgets.css"
    title = traitlets.Unicode("").tag(sync=True)
    tasks = traitlets.List(traitlets.Dict()).tag(sync=True)

    def show_tasks(self, rows: list[dict[str, Any]]) -> None:
        """Replace the rows (one sync message)."""
        with self.hold_sync():
            self.tasks = [dict(r) for r in rows]


class TakeGallery(anywidget.AnyWidget):
    """A shot's takes as thumbnails; clicking one makes it the shot's selected take."""

    _esm = STATIC / "gallery.js"
    _css = STATIC / "widgets.css"
    title = traitlets.Unicode("").tag(sync=True)
    takes = traitlets.List(traitlets.Dict()).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
