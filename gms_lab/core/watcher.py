"""Watches the workspace's projects for files changed by anyone (terminal, notebook, git)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from .projects import CACHE
from .workspace import Workspace

log = logging.getLogger(__name__)
#: (project id, [(added|modified|deleted, path relative to the project; "" for the project)])
OnChange = Callable[[str, list[tuple[str, str]]], None]
_KIND = {Change.added: "added", Change.modified: "modified", Change.deleted: "deleted"}


class ProjectWatcher:
    """One recursive watch over `Projects/`, reporting changes of the projects being watched.

    Hidden paths (`.git`, temp files, running jobs) and the cache are left out.
    """

    def __init__(self, workspace: Workspace, on_change: OnChange) -> None:
        self.workspace = workspace
        self.on_change = on_change
        self.projects: dict[str, int] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def watch(self, project_id: str) -> Callable[[], None]:
        """Report the project's changes until the returned function is called."""
        self.projects[project_id] = self.projects.get(project_id, 0) + 1

        def unwatch() -> None:
            left = self.projects.get(project_id, 0) - 1
            if left <= 0:
                self.projects.pop(project_id, None)
            else:
                self.projects[project_id] = left

        return unwatch

    def start(self) -> None:
        """Start watching (in the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop watching."""
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _relevant(self, change: Change, path: str) -> bool:
        try:
            rel = Path(path).relative_to(self.workspace.projects_dir)
        except ValueError:
            return False
        parts = rel.parts
        if not parts or any(p.startswith(".") for p in parts):
            return False
        if len(parts) == 1:
            return True  # a project folder appeared or went: every client's project list changes
        return parts[1] != CACHE and parts[0] in self.projects

    async def _run(self) -> None:
        root = self.workspace.projects_dir
        root.mkdir(parents=True, exist_ok=True)
        while not self._stop.is_set():
            try:
                async for changes in awatch(
                    root,
                    watch_filter=self._relevant,
                    stop_event=self._stop,
                    step=50,
                    debounce=500,
                    recursive=True,
                ):
                    self._report(changes)
            except Exception as exc:  # a vanished folder or an inotify limit: retry
                log.warning("project watcher restarting: %s", exc)
                await asyncio.sleep(1.0)

    def _report(self, changes: set[tuple[Change, str]]) -> None:
        grouped: dict[str, dict[str, str]] = {}
        for change, path in sorted(changes, key=lambda c: c[1]):
            rel = Path(path).relative_to(self.workspace.projects_dir)
            project_id, relpath = rel.parts[0], "/".join(rel.parts[1:])
            grouped.setdefault(project_id, {})[relpath] = _KIND[change]
        for project_id, paths in grouped.items():
            try:
                self.on_change(project_id, [(kind, p) for p, kind in paths.items()])
            except Exception as exc:
                log.warning("watcher listener failed for %s: %s", project_id, exc)
