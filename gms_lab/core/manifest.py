"""The one manifest writer: every change to a project.json goes through `ManifestStore.update`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from filelock import FileLock
from pydantic import ValidationError

from ..models import Project
from .errors import InvalidInput, ProjectNotFound, VersionConflict
from .files import atomic_write
from .workspace import Workspace

T = TypeVar("T")
MANIFEST = "project.json"
_LOCK_TIMEOUT = 30.0


class ManifestStore:
    """Reads and writes `project.json` under a per-project lock shared by threads and processes."""

    def __init__(
        self, workspace: Workspace, on_write: Callable[[Project], None] | None = None
    ) -> None:
        self.workspace = workspace
        #: Called after every successful write (outside the lock): announces the new version.
        self.on_write = on_write

    def lock(self, project_id: str) -> FileLock:
        """The project's manifest lock (a new handle each call: safe across threads)."""
        path = self.workspace.lock_path(f"{project_id}.manifest")
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path, timeout=_LOCK_TIMEOUT, thread_local=False)

    def read(self, project_id: str) -> Project:
        """The project's manifest as it is on disk now."""
        return self._read(project_id, self.workspace.project_dir(project_id) / MANIFEST)

    @staticmethod
    def _read(project_id: str, path: Path) -> Project:
        # the project may have been deleted since its folder was checked: that is a 404
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ProjectNotFound(f"No project {project_id!r}.", {"projectId": project_id}) from exc
        return Project.model_validate_json(raw)

    def write_new(self, project_dir: Path, project: Project) -> None:
        """Write the first manifest of a new project."""
        atomic_write(project_dir / MANIFEST, _dump(project))

    def update(
        self,
        project_id: str,
        change: Callable[[Project], T],
        expected_version: int | None = None,
    ) -> tuple[Project, T]:
        """Lock, read, apply `change` (which mutates the project), bump the version, write.

        `expected_version` (the client's `If-Match`) must equal the version on disk, else
        `VersionConflict`. A change that leaves an invalid project is refused and nothing is
        written. Returns the written project and what `change` returned.
        """
        path = self.workspace.project_dir(project_id) / MANIFEST
        with self.lock(project_id):
            project = self._read(project_id, path)
            if expected_version is not None and expected_version != project.version:
                raise VersionConflict(
                    f"The project changed meanwhile (version {project.version}, "
                    f"you had {expected_version}). Reload and try again.",
                    {"current": project.version, "expected": expected_version},
                )
            outcome = change(project)
            project.version += 1
            try:
                checked = Project.model_validate(project.wire())
            except ValidationError as exc:
                raise InvalidInput(
                    "The change would make the project invalid.", exc.errors(include_url=False)
                ) from exc
            atomic_write(path, _dump(checked))
        if self.on_write is not None:
            self.on_write(checked)
        return checked, outcome


def _dump(project: Project) -> bytes:
    return project.model_dump_json(by_alias=True, indent=2).encode("utf-8") + b"\n"
