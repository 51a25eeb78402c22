"""The cut of a film, a chapter or a scene: what an editor receives, shot by shot, in story order.

Each shot is its selected take, on screen for the shot's duration (a video take for its own
length), or a named gap of the shot's duration when it has no selected take to show. Every
export (animatic, timeline, boards) is made from this one description.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import Field

from ..models import CamelModel, Chapter, Project, Scene, ScopeKind, Shot, Take, TakeStatus
from . import hierarchy
from .errors import InvalidInput
from .files import media_kind
from .paths import slug_for

log = logging.getLogger(__name__)
#: Shot properties shown as the prompt when a take carries none.
PROMPT_KEYS = ("prompt", "description")


class Scope(CamelModel):
    """What is exported: the film (`id` None), a chapter or a scene."""

    id: str | None
    kind: ScopeKind
    name: str
    #: The scope in file names: the project id for the film, else the slug of the name.
    slug: str


class CutClip(CamelModel):
    """One shot of the cut: its take's file, or a gap (``path`` None) saying why."""

    name: str
    shot_id: str
    scene_id: str
    scene_name: str
    chapter_id: str
    chapter_name: str
    duration: float = Field(gt=0)
    path: str | None = None
    take_id: str | None = None
    media: Literal["image", "video"] | None = None
    prompt: str = ""
    seed: int | None = None
    tier: str | None = None
    pipeline: str | None = None
    notes: str = ""
    thumbnail: str | None = None
    missing: str | None = None


class Cut(CamelModel):
    """The shots of a scope in story order, with the project's frame rate and size."""

    project_id: str
    project_name: str
    scope: Scope
    fps: float
    width: int
    height: int
    clips: list[CutClip]

    @property
    def gaps(self) -> list[CutClip]:
        """The shots with no picture."""
        return [clip for clip in self.clips if clip.path is None]

    @property
    def title(self) -> str:
        """How the cut is titled in its files: `Harbour` or `Harbour — Dawn`."""
        if self.scope.kind == "film":
            return self.project_name
        return f"{self.project_name} — {self.scope.name}"


#: Seconds of a video file, or None when it cannot be told.
VideoLength = Callable[[Path], float | None]


def scope_of(project: Project, scope_id: str | None) -> tuple[Scope, list[tuple[Chapter, Scene]]]:
    """The scope named by `scope_id` (a chapter, a scene, or None / the project id for the film)
    and its scenes with their chapters, in story order."""
    if scope_id is None or scope_id == project.id:
        scenes = [(c, s) for c in project.chapters for s in c.scenes]
        return Scope(id=None, kind="film", name=project.name, slug=project.id), scenes
    located = hierarchy.find(project, scope_id)
    node = located.node
    if isinstance(node, Chapter):
        scope = Scope(id=node.id, kind="chapter", name=node.name, slug=_slug(project, node))
        return scope, [(node, s) for s in node.scenes]
    if isinstance(node, Scene):
        assert isinstance(located.parent, Chapter)
        scope = Scope(id=node.id, kind="scene", name=node.name, slug=_slug(project, node))
        return scope, [(located.parent, node)]
    raise InvalidInput(
        f"Exports are made of a scene, a chapter or the whole film, not a {located.kind}.",
        {"scope": scope_id},
    )


def _slug(project: Project, node: Chapter | Scene) -> str:
    """The node's name as a file name part; its id is added when another node shares it."""
    slug = slug_for(node.name)
    others = [
        located.node
        for located in hierarchy.walk(project)
        if located.kind in ("chapter", "scene") and located.node.id != node.id
    ]
    if any(slug_for(getattr(other, "name", "")) == slug for other in others):
        return f"{slug}-{node.id}"
    return slug


def cut_of(
    project: Project, root: Path, scope_id: str | None, video_length: VideoLength | None = None
) -> Cut:
    """The cut of a scope of `project` (whose folder is `root`)."""
    length = video_length or video_seconds
    scope, scenes = scope_of(project, scope_id)
    clips = [
        _clip(root, chapter, scene, shot, length)
        for chapter, scene in scenes
        for shot in scene.shots
    ]
    if not clips:
        raise InvalidInput(
            f"{scope.name!r} has no shots yet; there is nothing to export.",
            {"scope": scope.id},
        )
    res = project.settings.resolution
    return Cut(
        project_id=project.id,
        project_name=project.name,
        scope=scope,
        fps=project.settings.fps,
        width=res.width,
        height=res.height,
        clips=clips,
    )


def _clip(root: Path, chapter: Chapter, scene: Scene, shot: Shot, length: VideoLength) -> CutClip:
    take, missing = _selected(shot)
    base = CutClip(
        name=shot.name,
        shot_id=shot.id,
        scene_id=scene.id,
        scene_name=scene.name,
        chapter_id=chapter.id,
        chapter_name=chapter.name,
        duration=shot.duration,
        notes=notes_of(shot),
        prompt=next((str(shot.properties[k]) for k in PROMPT_KEYS if shot.properties.get(k)), ""),
        missing=missing,
    )
    if take is None or take.file is None:
        return base
    media = media_kind(take.file)
    duration = shot.duration
    if media == "video":
        seconds = _recorded_length(root / take.file) or length(root / take.file)
        duration = seconds if seconds and seconds > 0 else shot.duration
    return base.model_copy(
        update={
            "path": take.file,
            "take_id": take.id,
            "media": "video" if media == "video" else "image",
            "duration": duration,
            "prompt": str(take.parameters.get("prompt") or base.prompt),
            "seed": take.seed,
            "tier": take.tier,
            "pipeline": take.pipeline,
            "thumbnail": take.thumbnail,
        }
    )


def _selected(shot: Shot) -> tuple[Take | None, str | None]:
    """The shot's selected take if it can be shown, else None and why not."""
    if shot.selected_take is None:
        return None, "no selected take"
    take = next((t for t in shot.takes if t.id == shot.selected_take), None)
    if take is None:
        return None, "the selected take is gone"
    if take.status != TakeStatus.completed or take.file is None:
        return None, f"the selected take is {take.status.value}"
    if media_kind(take.file) not in ("image", "video"):
        return None, "the selected take is not a picture"
    return take, None


def notes_of(shot: Shot) -> str:
    """The shot's notes for a board: its `notes` property, then its other properties."""
    properties = dict(shot.properties)
    notes = str(properties.pop("notes", "") or "").strip()
    for key in PROMPT_KEYS:
        properties.pop(key, None)
    rest = " · ".join(f"{k}: {v}" for k, v in properties.items() if v not in (None, ""))
    return " · ".join(part for part in (notes, rest) if part)


def _recorded_length(path: Path) -> float | None:
    """The duration the take's pipeline recorded in its sidecar (`<take>.json`), if any."""
    try:
        sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        value = sidecar.get("metadata", {}).get("duration")
    except (OSError, ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) and value > 0 else None


def video_seconds(path: Path) -> float | None:
    """A video's length from its header (ffmpeg reads no frames for it); None if unreadable."""
    try:
        import imageio_ffmpeg

        frames = imageio_ffmpeg.read_frames(str(path))
        try:
            meta = next(frames)
        finally:
            frames.close()
        seconds = float(meta.get("duration") or 0)
    except Exception as exc:  # unreadable: the shot's own duration is used
        log.info("cannot tell the length of %s: %s", path, exc)
        return None
    return seconds if seconds > 0 else None
