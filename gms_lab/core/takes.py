"""Takes of a shot: where their files go, and their life in the manifest."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..models import Project, Shot, Take, TakeStatus
from . import hierarchy
from .errors import Conflict, InvalidInput, NotFound
from .files import media_kind
from .manifest import Unchanged
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
    try:  # shots only: their takes are not walked
        return cast(Shot, hierarchy.find(project, shot_id, "shot").node)
    except NotFound:
        located = hierarchy.find(project, shot_id)  # says what the node is, if it is one
    if not isinstance(located.node, Shot):
        raise InvalidInput(
            f"Takes are generated for shots; {shot_id!r} is a {located.kind}.", {"nodeId": shot_id}
        )
    return located.node


def with_style(prompt: str, style: str) -> str:
    """The prompt with the shot's style added (once: a prompt already ending with it is kept)."""
    prompt, style = prompt.strip(), style.strip()
    if not style or prompt.endswith(style):
        return prompt
    return f"{prompt}, {style}" if prompt else style


def usable_references(shot: Shot, root: Path) -> list[str]:
    """The shot's references that are files of the project now (one in the trash is skipped)."""
    return [ref for ref in shot.references if (root / ref).is_file()]


def shot_parameters(
    shot: Shot, given: dict[str, Any], accepted: set[str], references: list[str]
) -> dict[str, Any]:
    """The parameters of a take of `shot`: what was `given`, completed from the shot.

    For the parameters the pipeline `accepted`: the shot's prompt and negative prompt where none
    was given; its style as `style`, or added to the prompt when the pipeline has no `style`;
    the first image of `references` as `init_image` (image-to-image) where none was given.
    """
    out = dict(given)
    if "prompt" in accepted and not out.get("prompt") and shot.prompt:
        out["prompt"] = shot.prompt
    if "negative_prompt" in accepted and not out.get("negative_prompt") and shot.negative_prompt:
        out["negative_prompt"] = shot.negative_prompt
    if shot.style:
        if "style" in accepted:
            out.setdefault("style", shot.style)
        elif "prompt" in accepted:
            out["prompt"] = with_style(str(out.get("prompt") or ""), shot.style)
    if "init_image" in accepted and not out.get("init_image"):
        image = next((r for r in references if media_kind(r) == "image"), None)
        if image is not None:
            out["init_image"] = image
    return out


def add_generating(
    project: Project,
    shot_id: str,
    *,
    pipeline: str,
    parameters: dict[str, Any],
    seed: int | None,
    task_id: str,
    tier: str,
    take_id: str | None = None,
) -> Take:
    """Add a take in state `generating` to the shot; it is filled in when the task ends.

    With `take_id` (chosen at submit time, before the task was queued), a take of that id
    already in the shot is the task's own, filed by whoever finished the task first: it is
    left as it is (`Unchanged` is raised with it, so nothing is written).
    """
    shot = shot_of(project, shot_id)
    if take_id is not None:
        for existing in shot.takes:
            if existing.id == take_id:
                if existing.task_id != task_id:
                    raise Conflict(f"Take {take_id!r} exists already.", {"takeId": take_id})
                raise Unchanged(existing)
    take = Take(
        id=take_id or hierarchy.new_id(project, "take"),
        pipeline=pipeline,
        parameters=parameters,
        seed=seed,
        task_id=task_id,
        tier=tier,
    )
    shot.takes.append(take)
    return take


def in_shot(project: Project, shot_id: str, take_id: str) -> bool:
    """Whether the shot holds the take (the shot must exist)."""
    return _take_in(shot_of(project, shot_id), take_id) is not None


def _take_in(shot: Shot, take_id: str) -> Take | None:
    """The shot's take with that id, looked for from the newest: the take of a task ending is
    one of the last (a shot may hold thousands)."""
    return next((take for take in reversed(shot.takes) if take.id == take_id), None)


@dataclass(frozen=True)
class MissingTake:
    """A take to add if the submit has not written it yet, and the id of its shot."""

    take: Take
    shot_id: str


def _filed(
    project: Project, take_id: str, missing: MissingTake | None, shot_id: str | None
) -> tuple[Shot, Take]:
    """A take and its shot; `missing` is added when the take is not there yet (its task ended
    before the submit wrote it: see `TaskService.submit`). `shot_id`, the shot the take was
    made for, is looked in first, from its newest take (a film of 10,000 takes is not walked
    for each take that ends); a take moved to another shot since is found all the same."""
    if missing is not None:
        shot = shot_of(project, missing.shot_id)
        found = _take_in(shot, take_id)
        if found is None:
            shot.takes.append(missing.take)
        return shot, found or missing.take
    if shot_id is not None:
        with contextlib.suppress(NotFound, InvalidInput):
            shot = shot_of(project, shot_id)
            found = _take_in(shot, take_id)
            if found is not None:
                return shot, found
    return find_take(project, take_id)


def find_take(project: Project, take_id: str) -> tuple[Shot, Take]:
    """A take and its shot."""
    located = hierarchy.find(project, take_id, "take")
    assert isinstance(located.parent, Shot) and isinstance(located.node, Take)
    return located.parent, located.node


def replace(shot: Shot, take: Take, **changes: Any) -> Take:
    """Put a changed copy of `take` in its place in the shot (takes are frozen: older versions
    of the project share them); the new take."""
    listed = shot.takes
    index = next(i for i in range(len(listed) - 1, -1, -1) if listed[i] is take)  # newest first
    changed = take.model_copy(update=changes)
    shot.takes[index] = changed
    return changed


def complete(
    project: Project,
    take_id: str,
    file: str,
    thumbnail: str | None = None,
    missing: MissingTake | None = None,
    shot_id: str | None = None,
) -> Take:
    """Mark a take completed with its file (and thumbnail); the shot's first completed take
    becomes selected. `missing` is added first if the take is not there yet; `shot_id` is
    where to look for the take first."""
    shot, take = _filed(project, take_id, missing, shot_id)
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


def fail(
    project: Project,
    take_id: str,
    error: str,
    missing: MissingTake | None = None,
    cancelled: bool = False,
    shot_id: str | None = None,
) -> Take:
    """Mark a take failed (or cancelled), with the reason (`missing` is added first if it is not
    there yet; `shot_id` is where to look for the take first)."""
    shot, take = _filed(project, take_id, missing, shot_id)
    status = TakeStatus.cancelled if cancelled else TakeStatus.error
    return replace(shot, take, status=status, error=error[:2000])
