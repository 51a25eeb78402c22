"""The workspace trash: deleted projects, nodes, takes and assets wait in `.gms/trash/<id>/`.

Everything that deletes goes through `Trash`: files are moved (a rename on the same disk), never
erased, beside a small JSON record (`item.json`) that says what they were and where they go back.
Items are erased only when the user asks (delete forever, empty) or after the retention period.

An item is assembled in `.gms/trash/.incoming-<id>/` and renamed into place once the deletion is
written, so a crash half-way is recovered (`recover`): files go back to the project if the manifest
still holds what they belong to, else the item is completed.

Locks are taken in one order everywhere: trash → projects → manifest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock
from pydantic import ValidationError

from ..models import (
    Chapter,
    Project,
    Scene,
    Shot,
    Take,
    TakeStatus,
    TrashItem,
    TrashRecord,
    utcnow,
)
from . import hierarchy
from .assets import category_of, not_an_asset
from .errors import (
    Conflict,
    NotFound,
    ProjectDamaged,
    ProjectNotFound,
    StudioError,
    VersionConflict,
)
from .files import atomic_write, fsync_dir
from .manifest import ManifestStore
from .paths import resolve_inside
from .projects import RENDERS, Projects
from .workspace import Workspace

log = logging.getLogger(__name__)
ITEM = "item.json"
#: an item's files, at their project-relative paths
FILES = "files"
#: a trashed project's whole folder
PROJECT = "project"
_INCOMING = ".incoming-"
_ERASING = ".erasing-"
_LOCK_TIMEOUT = 60.0


class TrashItemNotFound(NotFound):
    """No item with that id in the trash."""

    code = "trash_item_not_found"


class RestoreConflict(Conflict):
    """The item cannot go back: its project or parent is gone, or its place is taken."""

    code = "restore_conflict"


class TrashListener(Protocol):
    """Told about what enters and leaves the trash (the task side keeps its records in step)."""

    def trashed(self, item: TrashRecord) -> None:
        """`item` was just deleted."""

    def restored(self, item: TrashRecord) -> None:
        """`item` was just restored."""

    def erased(self, item: TrashRecord) -> None:
        """`item` was erased for good."""


class Trash:
    """The trash of one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        manifests: ManifestStore,
        projects: Projects,
        retention_days: float = 30.0,
    ) -> None:
        self.workspace = workspace
        self.manifests = manifests
        self.projects = projects
        self.retention_days = retention_days
        self.listeners: list[TrashListener] = []

    @property
    def root(self) -> Path:
        """`.gms/trash`: one folder per item."""
        return self.workspace.runtime_dir / "trash"

    def _lock(self) -> FileLock:
        path = self.workspace.lock_path("trash")
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(path, timeout=_LOCK_TIMEOUT, thread_local=False)

    # -- putting things in -------------------------------------------------------------------
    def delete_project(
        self, project_id: str, expected_version: int | None = None, by: str | None = None
    ) -> TrashRecord:
        """Move a whole project (folder, `.git`, everything) to the trash."""
        with self._lock(), self.manifests.lock(project_id):
            path = self.workspace.project_dir(project_id)
            try:
                project: Project | None = self.manifests.read(project_id)
            except ProjectNotFound:
                raise
            except (ProjectDamaged, ValueError, ValidationError, OSError):
                project = None  # an unreadable manifest must not keep the project from going
            if expected_version is not None:
                # a damaged project is listed with version 0 (models.ProjectSummary)
                current = project.version if project is not None else 0
                if current != expected_version:
                    raise _stale(current, expected_version)
            record = TrashRecord(
                id=_new_id(),
                kind="project",
                name=project.name if project is not None else project_id,
                project_id=project_id,
                project_name=project.name if project is not None else project_id,
                deleted=utcnow(),
                size=_size(path),
                take_count=hierarchy.counts(project)[1] if project is not None else 0,
                version=project.version if project is not None else None,
                deleted_by=by,
            )
            incoming = self._incoming(record)
            path.rename(incoming / PROJECT)
            fsync_dir(path.parent)
            self.manifests.forget(project_id)
            self._complete(record)
        self._tell("trashed", record)
        return record

    def delete_node(
        self,
        project_id: str,
        node_id: str,
        expected_version: int | None = None,
        by: str | None = None,
    ) -> tuple[Project, TrashRecord]:
        """Take a chapter, scene, shot or take out of the manifest; its takes' files go along."""
        root = self.workspace.project_dir(project_id)
        with self._lock():
            state: dict[str, Any] = {}

            def change(project: Project) -> TrashRecord:
                located = hierarchy.find(project, node_id)
                takes = _takes_under(located.node)
                paths = _take_files(root, takes)
                index = located.index
                record = TrashRecord(
                    id=_new_id(),
                    kind="take" if located.kind == "take" else "node",
                    name=_node_name(located),
                    project_id=project_id,
                    project_name=project.name,
                    deleted=utcnow(),
                    size=sum(_size(root / p) for p in paths),
                    paths=paths,
                    node_kind=located.kind,
                    where=_where(project, located),
                    parent_id=located.parent.id if located.parent is not None else None,
                    index=index,
                    take_count=len(takes),
                    version=project.version + 1,
                    deleted_by=by,
                    node=located.node.wire(),
                    after=located.siblings[index - 1].id if index > 0 else None,
                    selected=isinstance(located.parent, Shot)
                    and located.parent.selected_take == node_id,
                    task_ids=[
                        t.task_id
                        for t in takes
                        if t.status == TakeStatus.generating and t.task_id is not None
                    ],
                )
                hierarchy.remove(project, node_id)
                incoming = self._incoming(record)
                state["incoming"] = incoming
                moved = _move_all(root, incoming / FILES, paths)
                state["moved"] = moved
                return record

            try:
                project, record = self.manifests.update(project_id, change, expected_version)
            except BaseException:
                incoming = state.get("incoming")
                if incoming is not None:
                    _move_all(incoming / FILES, root, state.get("moved", []))
                    shutil.rmtree(incoming, ignore_errors=True)
                raise
            _prune_empty(root, record.paths)
            self._complete(record)
        self._tell("trashed", record)
        return project, record

    def delete_asset(self, project_id: str, relpath: str, by: str | None = None) -> TrashRecord:
        """Move a file (or a folder) of the asset library to the trash."""
        root = self.workspace.project_dir(project_id)
        path = resolve_inside(root, relpath)
        rel = path.relative_to(root.resolve()).as_posix()
        parts = rel.split("/")
        if category_of(rel) is None:  # a category's own folder too
            raise not_an_asset(relpath)
        if not path.exists():
            raise NotFound(f"No asset {rel!r} in project {project_id!r}.", {"path": rel})
        with self._lock():
            try:
                project_name = self.manifests.read(project_id).name
            except (ProjectDamaged, ValueError, ValidationError):
                project_name = project_id
            record = TrashRecord(
                id=_new_id(),
                kind="asset",
                name=path.name,
                project_id=project_id,
                project_name=project_name,
                deleted=utcnow(),
                size=_size(path),
                paths=[rel],
                where=parts[1:-1],
                deleted_by=by,
            )
            incoming = self._incoming(record)
            _move_all(root, incoming / FILES, [rel])
            self._complete(record)
        self._tell("trashed", record)
        return record

    # -- looking -----------------------------------------------------------------------------
    def items(self, project_id: str | None = None) -> list[TrashItem]:
        """What the trash holds (of one project, if given), newest first."""
        self.erase_expired()
        out = [self._public(r) for r in self._records()]
        if project_id is not None:
            out = [i for i in out if i.project_id == project_id]
        return sorted(out, key=lambda i: i.deleted, reverse=True)

    def get(self, item_id: str) -> TrashRecord:
        """One item's record, or `TrashItemNotFound`."""
        folder = self._folder(item_id)
        try:
            return TrashRecord.model_validate_json((folder / ITEM).read_bytes())
        except (OSError, ValueError) as exc:
            raise TrashItemNotFound(
                f"Nothing in the trash with id {item_id!r}.", {"id": item_id}
            ) from exc

    def public(self, record: TrashRecord) -> TrashItem:
        """The item as clients see it (with its expiry)."""
        return self._public(record)

    # -- taking back -------------------------------------------------------------------------
    def restore(self, item_id: str) -> tuple[TrashRecord, Project | None]:
        """Put an item back where it was; the project's manifest after it (None for assets)."""
        with self._lock():
            record = self.get(item_id)
            project: Project | None = None
            if record.kind == "project":
                self._restore_project(record)
            elif record.kind == "asset":
                self._restore_files(record)
            else:
                project = self._restore_node(record)
            shutil.rmtree(self._folder(item_id), ignore_errors=True)
        self._tell("restored", record)
        return record, project

    def _restore_project(self, record: TrashRecord) -> None:
        folder = self._folder(record.id) / PROJECT
        target = self.workspace.projects_dir / record.project_id
        with FileLock(self.workspace.lock_path("projects"), timeout=30):
            if target.exists():
                raise RestoreConflict(
                    f"A project with the id {record.project_id!r} exists already; rename or "
                    "delete it first.",
                    {"projectId": record.project_id},
                )
            for other in self.workspace.project_ids():
                try:
                    other_name = self.manifests.read(other).name
                except (StudioError, ValueError, ValidationError):
                    continue  # a damaged project has no name to clash with
                if other_name.casefold() == record.name.casefold():
                    raise RestoreConflict(
                        f"A project named {record.name!r} exists already ({other}); "
                        "rename it first.",
                        {"projectId": other},
                    )
            self.workspace.projects_dir.mkdir(parents=True, exist_ok=True)
            folder.rename(target)
            fsync_dir(target.parent)
        # its tasks were cancelled when it went: takes left generating will never finish
        with contextlib.suppress(StudioError, ValueError, ValidationError):
            project = self.manifests.read(record.project_id)
            if any(t.status == TakeStatus.generating for t in _takes_in(project)):
                self.manifests.update(record.project_id, _interrupt)

    def _project_root(self, record: TrashRecord) -> Path:
        try:
            return self.workspace.project_dir(record.project_id)
        except ProjectNotFound:
            details: dict[str, Any] = {"projectId": record.project_id}
            hint = ""
            for other in self._records():
                if other.kind == "project" and other.project_id == record.project_id:
                    details["trashId"] = other.id
                    hint = " It is in the trash: restore the project first."
            raise RestoreConflict(
                f"The project {record.project_name!r} no longer exists.{hint}", details
            ) from None

    def _check_files_free(self, root: Path, record: TrashRecord) -> None:
        for rel in record.paths:
            if (root / rel).exists():
                raise RestoreConflict(
                    f"A file is in the way of {rel!r}; move it, then restore again.",
                    {"path": rel},
                )

    def _restore_files(self, record: TrashRecord) -> None:
        root = self._project_root(record)
        self._check_files_free(root, record)
        _move_all(self._folder(record.id) / FILES, root, record.paths)

    def _restore_node(self, record: TrashRecord) -> Project:
        root = self._project_root(record)
        assert record.node is not None and record.node_kind is not None
        node = _node_model(record.node_kind, record.node)
        kind = record.node_kind
        moved: list[str] = []

        def change(project: Project) -> None:
            siblings = _siblings_for(project, record)
            taken = {located.node.id for located in hierarchy.walk(project)}
            clashes = sorted(taken.intersection(_ids_under(node)))
            if clashes:
                raise RestoreConflict(
                    f"The {kind} {record.name!r} cannot come back: the id {clashes[0]!r} is "
                    "used in the project.",
                    {"ids": clashes},
                )
            self._check_files_free(root, record)
            restored = _interrupt_takes(node)
            ids = [s.id for s in siblings]
            if record.after is None and record.index == 0:
                position = 0
            elif record.after in ids:
                position = ids.index(record.after) + 1
            else:
                position = len(siblings)
            siblings.insert(position, restored)
            if record.selected and kind == "take":
                shot = hierarchy.find(project, record.parent_id or "", "shot").node
                assert isinstance(shot, Shot)
                shot.selected_take = shot.selected_take or restored.id
            moved.extend(_move_all(self._folder(record.id) / FILES, root, record.paths))

        try:
            project, _ = self.manifests.update(record.project_id, change)
        except BaseException:
            _move_all(root, self._folder(record.id) / FILES, moved)
            raise
        return project

    # -- erasing -----------------------------------------------------------------------------
    def erase(self, item_id: str) -> TrashRecord:
        """Erase one item for good."""
        with self._lock():
            record = self.get(item_id)
            self._erase(record)
        self._tell("erased", record)
        return record

    def empty(self, project_id: str | None = None) -> list[str]:
        """Erase every item (of one project, if given); the ids erased."""
        with self._lock():
            records = [
                r for r in self._records() if project_id is None or r.project_id == project_id
            ]
            for record in records:
                self._erase(record)
        for record in records:
            self._tell("erased", record)
        return [r.id for r in records]

    def erase_expired(self, now: datetime | None = None) -> list[str]:
        """Erase the items older than the retention period; the ids erased."""
        if self.retention_days <= 0 or not self.root.is_dir():
            return []
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        with self._lock():
            self._recover()
            records = [r for r in self._records() if r.deleted < cutoff]
            for record in records:
                self._erase(record)
        for record in records:
            self._tell("erased", record)
        return [r.id for r in records]

    def _erase(self, record: TrashRecord) -> None:
        folder = self._folder(record.id)
        # renamed first, so a half-erased item is never listed
        doomed = self.root / f"{_ERASING}{record.id}"
        folder.rename(doomed)
        _rmtree(doomed)

    # -- crash recovery ----------------------------------------------------------------------
    def recover(self) -> None:
        """Finish or undo deletions a crash interrupted, and erasures it left half-done."""
        if self.root.is_dir():
            with self._lock():
                self._recover()

    def _recover(self) -> None:
        for folder in list(self.root.iterdir()):
            if folder.name.startswith(_ERASING):
                _rmtree(folder)
            elif folder.name.startswith(_INCOMING):
                self._recover_incoming(folder)

    def _recover_incoming(self, folder: Path) -> None:
        try:
            record = TrashRecord.model_validate_json((folder / ITEM).read_bytes())
        except (OSError, ValueError):
            _rmtree(folder)
            return
        if record.kind == "project":
            if (folder / PROJECT).is_dir():
                self._complete(record)
            else:
                _rmtree(folder)
            return
        root = self.workspace.projects_dir / record.project_id
        still_there = False
        node_id = (record.node or {}).get("id")
        if record.kind != "asset":
            with contextlib.suppress(StudioError, ValueError, ValidationError):
                project = self.manifests.read(record.project_id)
                still_there = any(located.node.id == node_id for located in hierarchy.walk(project))
        if still_there and root.is_dir():
            _move_all(folder / FILES, root, record.paths)
            _rmtree(folder)
        else:
            self._complete(record)

    # -- inside ------------------------------------------------------------------------------
    def _folder(self, item_id: str) -> Path:
        if not item_id.startswith("tr_") or not item_id[3:].isalnum():
            raise TrashItemNotFound(f"Nothing in the trash with id {item_id!r}.", {"id": item_id})
        return self.root / item_id

    def _incoming(self, record: TrashRecord) -> Path:
        folder = self.root / f"{_INCOMING}{record.id}"
        folder.mkdir(parents=True)
        atomic_write(folder / ITEM, record.model_dump_json(by_alias=True, indent=2).encode())
        return folder

    def _complete(self, record: TrashRecord) -> None:
        incoming = self.root / f"{_INCOMING}{record.id}"
        atomic_write(incoming / ITEM, record.model_dump_json(by_alias=True, indent=2).encode())
        incoming.rename(self.root / record.id)
        fsync_dir(self.root)

    def _records(self) -> Iterator[TrashRecord]:
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if folder.name.startswith("."):
                continue
            try:
                yield TrashRecord.model_validate_json((folder / ITEM).read_bytes())
            except (OSError, ValueError) as exc:
                log.warning("unreadable trash item %s: %s", folder.name, exc)

    def _public(self, record: TrashRecord) -> TrashItem:
        item = TrashItem.model_validate(record.model_dump())
        if self.retention_days > 0:
            item.expires = record.deleted + timedelta(days=self.retention_days)
        return item

    def _tell(self, what: str, record: TrashRecord) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, what)(record)
            except Exception as exc:  # the trash is on disk; listeners are best effort
                log.warning("trash listener %s(%s) failed: %s", what, record.id, exc)


def _new_id() -> str:
    return f"tr_{datetime.now(UTC):%Y%m%d%H%M%S}{secrets.token_hex(4)}"


def _stale(current: int | None, expected: int) -> Conflict:
    return VersionConflict(
        f"The project changed meanwhile (version {current}, you had {expected}). "
        "Reload and try again.",
        {"current": current, "expected": expected},
    )


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / name).lstat().st_size
    return total


def _takes_under(node: Any) -> list[Take]:
    if isinstance(node, Take):
        return [node]
    if isinstance(node, Shot):
        return list(node.takes)
    if isinstance(node, Scene):
        return [t for shot in node.shots for t in shot.takes]
    if isinstance(node, Chapter):
        return [t for scene in node.scenes for shot in scene.shots for t in shot.takes]
    return []


def _takes_in(project: Project) -> list[Take]:
    return [t for chapter in project.chapters for t in _takes_under(chapter)]


def _interrupted(take: Take) -> Take:
    """A take deleted while generating comes back failed: its task was cancelled.

    Takes are frozen (versions of a project share them): a changed copy replaces it.
    """
    if take.status != TakeStatus.generating:
        return take
    return take.model_copy(
        update={"status": TakeStatus.error, "error": "Deleted while it was being generated."}
    )


def _interrupt_takes(node: Any) -> Any:
    """`node` with every take under it that was generating marked failed (a take: a copy)."""
    if isinstance(node, Take):
        return _interrupted(node)
    shots = (
        [node]
        if isinstance(node, Shot)
        else node.shots
        if isinstance(node, Scene)
        else [shot for scene in node.scenes for shot in scene.shots]
        if isinstance(node, Chapter)
        else []
    )
    for shot in shots:
        shot.takes[:] = [_interrupted(t) for t in shot.takes]
    return node


def _interrupt(project: Project) -> None:
    for chapter in project.chapters:
        _interrupt_takes(chapter)


def _ids_under(node: Any) -> set[str]:
    ids = {node.id}
    for child in getattr(node, "scenes", []) or getattr(node, "shots", []) or []:
        ids |= _ids_under(child)
    for take in getattr(node, "takes", []):
        ids.add(take.id)
    return ids


def _take_files(root: Path, takes: list[Take]) -> list[str]:
    """Every file of the takes: the take file, its sidecar and extra outputs, its thumbnail."""
    out: list[str] = []
    for take in takes:
        if take.file:
            folder = (root / take.file).parent
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    stem = path.name.split(".", 1)[0]
                    if path.is_file() and (stem == take.id or path.name.startswith(f"{take.id}-")):
                        out.append(path.relative_to(root).as_posix())
        if take.thumbnail and (root / take.thumbnail).is_file():
            out.append(take.thumbnail)
    return sorted(set(out))


def _move_all(src_root: Path, dst_root: Path, paths: list[str]) -> list[str]:
    """Move each project-relative path from one root to the other; the paths moved."""
    moved = []
    for rel in paths:
        source = src_root / rel
        if not source.exists() and not source.is_symlink():
            continue
        target = dst_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        source.rename(target)
        moved.append(rel)
    for folder in {(dst_root / rel).parent for rel in moved}:
        fsync_dir(folder)
    return moved


def _prune_empty(root: Path, paths: list[str]) -> None:
    """Remove the render folders the moves left empty (never the top folders)."""
    keep = {root, root / RENDERS}
    for rel in paths:
        folder = (root / rel).parent
        while folder not in keep and root in folder.parents and folder.is_dir():
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent


def _node_name(located: hierarchy.Located) -> str:
    node = located.node
    if isinstance(node, Take):
        return f"Take {located.index + 1}"
    return str(getattr(node, "name", node.id))


def _where(project: Project, located: hierarchy.Located) -> list[str]:
    names: list[str] = []
    parent = located.parent
    while parent is not None:
        names.insert(0, str(getattr(parent, "name", parent.id)))
        parent = hierarchy.find(project, parent.id).parent
    return names


def _node_model(kind: str, data: dict[str, Any]) -> Chapter | Scene | Shot | Take:
    if kind == "chapter":
        return Chapter.model_validate(data)
    if kind == "scene":
        return Scene.model_validate(data)
    if kind == "shot":
        return Shot.model_validate(data)
    return Take.model_validate(data)


def _siblings_for(project: Project, record: TrashRecord) -> list[Any]:
    """The list the node goes back into: its parent's children (the chapters for a chapter)."""
    kind = record.node_kind
    if kind == "chapter":
        return project.chapters
    try:
        parent = hierarchy.find(project, record.parent_id or "")
    except NotFound:
        parent_kind = {"scene": "chapter", "shot": "scene", "take": "shot"}[kind or "take"]
        where = " / ".join(record.where) or parent_kind
        raise RestoreConflict(
            f"The {parent_kind} it was in ({where}) no longer exists.",
            {"parentId": record.parent_id},
        ) from None
    node = parent.node
    if isinstance(node, Chapter):
        return node.scenes
    if isinstance(node, Scene):
        return node.shots
    assert isinstance(node, Shot)
    return node.takes


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        log.warning("could not erase all of %s", path.name)
