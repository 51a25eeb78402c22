"""The workspace on disk: Projects/, Library/ and the studio's runtime folder .gms/."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ProjectNotFound, UnsafePath
from .files import sweep_partial_files
from .paths import check_name

#: Where a project's writers keep temp files: its root (project.json), the upload area.
_TEMP_FOLDERS = ("", "05_Cache/uploads")
LIBRARY_FOLDERS = (
    "Pipeline_Templates",
    "Stock_Media",
    "Characters",
    "Styles",
    "Locations",
    "AI_Models",
)

#: Project ids whose folders are kept at most (see `Workspace.project_dir`).
_KNOWN_IDS = 10_000


class Workspace:
    """A workspace root and the fixed places inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        #: The folders of ids found well-formed, with their manifests' paths (as strings):
        #: every task's step looks its project up (a check, two joins, a stat, a conversion).
        self._project_dirs: dict[str, tuple[Path, Path, str]] = {}

    @property
    def projects_dir(self) -> Path:
        """Where projects live, one folder each."""
        return self.root / "Projects"

    @property
    def library_dir(self) -> Path:
        """The shared library (stock media, templates, models) of all projects."""
        return self.root / "Library"

    @property
    def models_dir(self) -> Path:
        """The model library (`Library/AI_Models/`) the generation pipelines load from."""
        return self.library_dir / "AI_Models"

    @property
    def runtime_dir(self) -> Path:
        """The studio's own state: runtime.json, embedded Redis data, logs, locks."""
        return self.root / ".gms"

    @property
    def runtime_file(self) -> Path:
        """Where the running server says how to reach its broker and worker."""
        return self.runtime_dir / "runtime.json"

    def lock_path(self, name: str) -> Path:
        """A lock file of the studio's, kept outside the projects so git never sees it."""
        return self.runtime_dir / "locks" / f"{name}.lock"

    def scaffold(self) -> None:
        """Create the workspace folders that are missing; existing content is left alone."""
        for folder in (self.projects_dir, self.runtime_dir / "locks", self.runtime_dir / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
        for name in LIBRARY_FOLDERS:
            (self.library_dir / name).mkdir(parents=True, exist_ok=True)

    def sweep_partial_files(self) -> list[str]:
        """Remove the temp files crashed writers left: manifests half-written, partial uploads.

        Run at start-up. Only unlocked temp files go (see `files.sweep_partial_files`); the
        answer is what was removed, relative to the workspace.
        """
        folders = [self.runtime_dir]
        if self.projects_dir.is_dir():
            for project in self.projects_dir.iterdir():
                if project.is_dir() and not project.name.startswith("."):
                    folders += [project / sub for sub in _TEMP_FOLDERS]
        removed = [p for folder in folders for p in sweep_partial_files(folder)]
        return [p.relative_to(self.root).as_posix() for p in removed]

    def project_dir(self, project_id: str, *, must_exist: bool = True) -> Path:
        """The folder of project `project_id`; the id is checked like any user input."""
        return self._project(project_id, must_exist)[0]

    def manifest_path(self, project_id: str, *, must_exist: bool = True) -> Path:
        """The `project.json` of project `project_id` (checked as in `project_dir`)."""
        return self._project(project_id, must_exist)[1]

    def _project(self, project_id: str, must_exist: bool) -> tuple[Path, Path, str]:
        known = self._project_dirs.get(project_id)
        if known is None:
            try:
                check_name(project_id, what="project id")
            except UnsafePath as exc:
                raise ProjectNotFound(
                    f"No project {project_id!r}.", {"projectId": project_id}
                ) from exc
            path = self.projects_dir / project_id
            manifest = path / "project.json"
            known = (path, manifest, os.fspath(manifest))
            if len(self._project_dirs) >= _KNOWN_IDS:
                self._project_dirs.clear()
            self._project_dirs[project_id] = known
        if must_exist and not os.path.isfile(known[2]):
            raise ProjectNotFound(f"No project {project_id!r}.", {"projectId": project_id})
        return known

    def project_ids(self) -> list[str]:
        """The ids of every project on disk, sorted."""
        if not self.projects_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.projects_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "project.json").is_file()
        )
