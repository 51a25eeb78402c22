"""Copies of a project that a change may mutate without touching the original.

A project read from `project.json` is kept and shared by every reader, so a change works on a
fork. `fork` copies the whole spine (chapters, scenes, shots, their lists, the shots'
properties); takes are shared, which is safe because `Take` is frozen.

In a film of 1,000 shots that copy costs more than the rest of a take's write, while a take
ending changes one shot. `lazy_fork` copies only the project and its list of chapters; while a
change runs on it (`owning`), every node `hierarchy.find` finds is copied first along its path
(its chapter, scene and shot, each with its own lists), so the change alters copies and the
rest stays shared with the original. A change run on a lazy fork must reach every node it
alters through `hierarchy.find` (as `takes.shot_of` and `takes.find_take` do); a node it
reached by walking the lists itself would be the original's.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from ..models import Chapter, Project, Scene, Shot

M = TypeVar("M", Project, Chapter, Scene, Shot)

_local = threading.local()


def fork(project: Project) -> Project:
    """A copy of the whole spine of `project` (see the module's docstring)."""
    copy = lazy_fork(project)
    owned = Owned(copy)
    for index in range(len(copy.chapters)):
        owned.whole_chapter(index)
    return copy


def lazy_fork(project: Project) -> Project:
    """A copy of `project` whose chapters are copied only once found (see `owning`)."""
    copy = _shallow(project)
    fields = copy.__dict__
    fields["settings"] = project.settings.model_copy(deep=True)
    fields["canvas"] = project.canvas.model_copy(deep=True)
    fields["chapters"] = list(project.chapters)
    return copy


@contextlib.contextmanager
def owning(project: Project) -> Iterator[None]:
    """While this runs, `hierarchy.find` on `project` (a `lazy_fork`) in this thread copies
    what it finds along its path first."""
    outer = getattr(_local, "fork", None)
    _local.fork = Owned(project)
    try:
        yield
    finally:
        _local.fork = outer


def owned(project: Project) -> Owned | None:
    """The lazy fork being changed in this thread, if `project` is it."""
    fork = getattr(_local, "fork", None)
    return fork if fork is not None and fork.project is project else None


class Owned:
    """A lazy fork and the nodes copied into it so far (by identity)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._mine: set[int] = set()

    def owns(self, node: Chapter | Scene | Shot) -> bool:
        """Whether `node` is a copy of this fork's (a change may alter it), not shared."""
        return id(node) in self._mine

    def chapter(self, index: int) -> Chapter:
        """The project's chapter at `index`, copied if not yet (its list of scenes too)."""
        chapters = self.project.chapters
        chapter = chapters[index]
        if id(chapter) not in self._mine:
            chapter = _shallow(chapter)
            chapter.__dict__["scenes"] = list(chapter.scenes)
            chapters[index] = self._keep(chapter)
        return chapter

    def scene(self, chapter: Chapter, index: int) -> Scene:
        """The scene at `index` of an owned chapter, copied if not yet (its shots' list too)."""
        scene = chapter.scenes[index]
        if id(scene) not in self._mine:
            scene = _shallow(scene)
            scene.__dict__["shots"] = list(scene.shots)
            chapter.scenes[index] = self._keep(scene)
        return scene

    def shot(self, scene: Scene, index: int) -> Shot:
        """The shot at `index` of an owned scene, copied if not yet."""
        shot = scene.shots[index]
        if id(shot) not in self._mine:
            shot = self._keep(_fork_shot(shot))
            scene.shots[index] = shot
        return shot

    def whole_chapter(self, index: int) -> Chapter:
        """The chapter at `index` with everything under it copied (a change may alter any of
        it)."""
        chapter = self.chapter(index)
        for i in range(len(chapter.scenes)):
            self.whole_scene(chapter, i)
        return chapter

    def whole_scene(self, chapter: Chapter, index: int) -> Scene:
        """The scene at `index` of an owned chapter with all its shots copied."""
        scene = self.scene(chapter, index)
        for i in range(len(scene.shots)):
            self.shot(scene, i)
        return scene

    def _keep(self, node: M) -> M:
        self._mine.add(id(node))
        return node


def _fork_shot(shot: Shot) -> Shot:
    copy = _shallow(shot)
    fields = copy.__dict__
    fields["properties"] = _copy_json(shot.properties)
    fields["references"] = list(shot.references)
    fields["takes"] = list(shot.takes)
    return copy


def _shallow(model: M) -> M:
    """`model.model_copy()` without its generality (models of the manifest have no extras and
    no private attributes): a new instance with a copy of the field dict."""
    cls = type(model)
    copy = cls.__new__(cls)
    object.__setattr__(copy, "__dict__", dict(model.__dict__))
    object.__setattr__(copy, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    object.__setattr__(copy, "__pydantic_extra__", None)
    object.__setattr__(copy, "__pydantic_private__", None)
    return copy


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value
