"""The workspace on disk: Projects/, Library/ and the studio's runtime folder .gms/."""

from __future__ import annotations

from pathlib import Path

from .errors import ProjectNotFound, UnsafePath
from .paths import check_name

LIBRARY_FOLDERS = (
    "Pipeline_Templates",
    "Stock_Media",
    "Characters",
    "Styles",
    "Locations",
    "AI_Models",
)


class Workspace:
    """A workspace root and the fixed places inside it."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()

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

    def project_dir(self, project_id: str, *, must_exist: bool = True) -> Path:
        """The folder of project `project_id`; the id is checked like any user input."""
        try:
            check_name(project_id, what="project id")
        except UnsafePath as exc:
            raise ProjectNotFound(f"No project {project_id!r}.", {"projectId": project_id}) from exc
        path = self.projects_dir / project_id
        if must_exist and not (path / "project.json").is_file():
            raise ProjectNotFound(f"No project {project_id!r}.", {"projectId": project_id})
        return path

    def project_ids(self) -> list[str]:
        """The ids of every project on disk, sorted."""
        if not self.projects_dir.is_dir():
            return []
        return sorted(
            p.name
            for p in self.projects_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "project.json").is_file()
        )
