"""Takes of a shot: where their files go, and their life in the manifest."""

from __future__ import annotations

from typing import Any

from ..models import Project, Shot, Take, TakeStatus
from . import hierarchy
from .errors import InvalidInput
from .projects import CACHE, RENDERS

#: Where pipelines write while a job runs (hidden and git-ignored), one folder per task.
JOBS_DIR = f"{RENDERS}/.jobs"
#: Where the previews of takes in the making are kept (git-ignored), one folder per task.
PREVIEWS_DIR = f"{CACHE}/previews"


def preview_relpath(task_id: str, number: int, suffix: str) -> str:
    """The project-relative path of a task's `number`-th preview (a new name each time)."""
    return f"{PREVIEWS_DIR}/{task_id}/{number:05d}{suffix.lower()}"


def renders_dir(project: Project, shot_id: str) -> str:
    """`03_Renders/<chapter>/<scene>/<shot>`: the folder of a shot's takes (ids never change)."""
    return "/".join([RENDERS, *hierarchy.shot_path(project, shot_id)])


def shot_of(project: Project, shot_id: str) -> Shot:
    """The shot with that id, or an error saying the node is not a shot."""
    located = hierarchy.find(project, shot_id)
    if not isinstance(located.node, Shot):
        raise InvalidInput(
            f"Takes are generated for shots; {shot_id!r} is a {located.kind}.", {"nodeId": shot_id}
        )
    return located.node


def add_generating(
    project: Project,
    shot_id: str,
    *,
    pipeline: str,
    parameters: dict[str, Any],
    seed: int | None,
    task_id: str,
    tier: str,
) -> Take:
    """Add a take in state `generating` to the shot; it is filled in when the task ends."""
    shot = shot_of(project, shot_id)
    take = Take(
        id=hierarchy.new_id(project, "take"),
        pipeline=pipeline,
        parameters=parameters,
        seed=seed,
        task_id=task_id,
        tier=tier,
    )
    shot.takes.append(take)
    return take


def find_take(project: Project, take_id: str) -> tuple[Shot, Take]:
    """A take and its shot."""
    located = hierarchy.find(project, take_id, "take")
    assert isinstance(located.parent, Shot) and isinstance(located.node, Take)
    return located.parent, located.node


def replace(shot: Shot, take: Take, **changes: Any) -> Take:
    """Put a changed copy of `take` in its place in the shot (takes are frozen: older versions
    of the project share them); the new take."""
    index = next(i for i, t in enumerate(shot.takes) if t is take)
    changed = take.model_copy(update=changes)
    shot.takes[index] = changed
    return changed


def complete(project: Project, take_id: str, file: str, thumbnail: str | None = None) -> Take:
    """Mark a take completed with its file; the shot's first completed take becomes selected."""
    shot, take = find_take(project, take_id)
    changes: dict[str, Any] = {"status": TakeStatus.completed, "file": file, "error": None}
    if thumbnail is not None:
        changes["thumbnail"] = thumbnail
    take = replace(shot, take, **changes)
    if shot.selected_take is None:
        shot.selected_take = take.id
    return take


def set_thumbnail(project: Project, file: str, thumbnail: str) -> Take | None:
    """Record the thumbnail of the take whose file is `file` (None if no take has it now)."""
    for located in hierarchy.walk(project):
        node = located.node
        if isinstance(node, Take) and node.file == file:
            assert isinstance(located.parent, Shot)
            return replace(located.parent, node, thumbnail=thumbnail)
    return None


def fail(project: Project, take_id: str, error: str) -> Take:
    """Mark a take failed, with the reason."""
    shot, take = find_take(project, take_id)
    return replace(shot, take, status=TakeStatus.error, error=error[:2000])
