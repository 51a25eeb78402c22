"""Projects: create (folders, manifest, git + LFS), list, read, change (deleting: `trash`)."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from filelock import FileLock

from ..models import (
    AssetCategory,
    Project,
    ProjectCreate,
    ProjectPatch,
    ProjectSettings,
    ProjectSummary,
)
from .errors import ProjectDamaged, ProjectExists, ProjectNotFound
from .manifest import ManifestStore
from .paths import slug_for
from .vcs import Author, ProjectRepo
from .workspace import Workspace

#: The numbered folders of every project, in order.
PROJECT_FOLDERS = (
    "01_Assets",
    "02_Source_Creative",
    "03_Renders",
    "04_Project_Files",
    "05_Cache",
    "06_Exports",
)
RENDERS = "03_Renders"
CACHE = "05_Cache"
EXPORTS = "06_Exports"
ASSETS = "01_Assets"


class Projects:
    """The projects of a workspace."""

    def __init__(self, workspace: Workspace, manifests: ManifestStore, lfs: bool = True) -> None:
        self.workspace = workspace
        self.manifests = manifests
        self.lfs = lfs

    def repo(self, project_id: str) -> ProjectRepo:
        """The git repository of a project."""
        return ProjectRepo(self.workspace, project_id, self.workspace.project_dir(project_id))

    def path(self, project_id: str) -> Path:
        """The folder of an existing project."""
        return self.workspace.project_dir(project_id)

    def create(self, request: ProjectCreate, author: Author) -> Project:
        """Make a project: folders, manifest, `.gitignore`, LFS attributes, first commit.

        Built in a hidden folder and renamed into place, so a failure leaves nothing behind.
        """
        name = request.name.strip()
        slug = slug_for(name)
        self.workspace.scaffold()
        with FileLock(self.workspace.lock_path("projects"), timeout=30):
            self._check_name_free(name, slug, exclude=None)
            staging = self.workspace.projects_dir / f".creating-{slug}-{secrets.token_hex(4)}"
            try:
                staging.mkdir(parents=True)
                for folder in PROJECT_FOLDERS:
                    (staging / folder).mkdir()
                    if folder not in (CACHE, EXPORTS):
                        (staging / folder / ".gitkeep").touch()
                for category in AssetCategory:
                    (staging / ASSETS / category.folder).mkdir()
                    (staging / ASSETS / category.folder / ".gitkeep").touch()
                project = Project(
                    id=slug,
                    name=name,
                    quality=request.quality,
                    settings=request.settings or ProjectSettings(),
                )
                self.manifests.write_new(staging, project)
                ProjectRepo(self.workspace, slug, staging).init(author, lfs=self.lfs)
                staging.rename(self.workspace.projects_dir / slug)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return project

    def _check_name_free(self, name: str, slug: str, exclude: str | None) -> None:
        for other in self.workspace.project_ids():
            if other == exclude:
                continue
            try:
                other_name = self.manifests.read(other).name
            except ProjectNotFound:
                continue
            except ProjectDamaged as exc:
                if other in (slug, name.casefold()):
                    raise ProjectExists(
                        f"The project folder {other!r} exists, but its project.json cannot be "
                        f"read ({exc.reason}). Restore it from its git history, or delete it.",
                        {"projectId": other, "damaged": True},
                    ) from exc
                continue
            if other == slug:
                raise ProjectExists(
                    f"A project named like {name!r} exists already ({other}).",
                    {"projectId": other},
                )
            if other_name.casefold() == name.casefold():
                raise ProjectExists(
                    f"A project named {name!r} exists already.", {"projectId": other}
                )

    def list(self) -> list[ProjectSummary]:
        """Every project, newest change first; one whose manifest cannot be read is `damaged`."""
        # one scandir and, per project, the manifest store's check of its file (no parse
        # unless the file changed): fast at a thousand projects
        out = []
        folder = self.workspace.projects_dir
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        for entry in entries:
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            summary = self.manifests.summary(entry.name)
            if summary is not None:
                out.append(summary)
        return sorted(out, key=lambda p: p.modified, reverse=True)

    def get(self, project_id: str) -> Project:
        """The manifest of a project (a shared snapshot: change it through `update`)."""
        return self.manifests.read(project_id)

    def get_serialised(self, project_id: str) -> tuple[Project, bytes]:
        """The manifest and its JSON, as the API answers it (serialised once per version)."""
        return self.manifests.read_serialised(project_id)

    def update(
        self, project_id: str, patch: ProjectPatch, expected_version: int | None = None
    ) -> Project:
        """Rename, change quality, settings or canvas; the id (folder) never changes."""
        if patch.name is not None:
            name = patch.name.strip()
            with FileLock(self.workspace.lock_path("projects"), timeout=30):
                self._check_name_free(name, "\x00", exclude=project_id)
                return self._apply(project_id, patch, name, expected_version)
        return self._apply(project_id, patch, None, expected_version)

    def _apply(
        self, project_id: str, patch: ProjectPatch, name: str | None, expected: int | None
    ) -> Project:
        def change(project: Project) -> None:
            if name is not None:
                project.name = name
            if patch.quality is not None:
                project.quality = patch.quality
            if patch.settings is not None:
                project.settings = patch.settings
            if patch.canvas is not None:
                project.canvas = patch.canvas

        project, _ = self.manifests.update(project_id, change, expected)
        return project
