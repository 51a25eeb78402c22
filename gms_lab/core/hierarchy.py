"""Chapters → scenes → shots → takes inside a project manifest: find, add, change, move, remove.

These functions mutate a `Project` in memory; callers run them inside `ManifestStore.update`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from ..models import Chapter, NodeCreate, NodeKind, NodePatch, Project, Scene, Shot, Take
from . import forks
from .errors import InvalidInput, NodeNotFound

Node = Chapter | Scene | Shot | Take
_PREFIX: dict[str, str] = {"chapter": "ch", "scene": "sc", "shot": "sh", "take": "tk"}
_PARENT_KIND: dict[str, str | None] = {"chapter": None, "scene": "chapter", "shot": "scene"}
#: What a shot has and other nodes do not: what its takes are made from.
SHOT_FIELDS = ("properties", "duration", "prompt", "negative_prompt", "style", "references")


@dataclass
class Located:
    """A node with where it sits: its kind, its parent (None for chapters), its siblings."""

    kind: NodeKind
    node: Node
    parent: Node | None
    siblings: list[Any]

    @property
    def index(self) -> int:
        """Position among its siblings."""
        return next(i for i, n in enumerate(self.siblings) if n.id == self.node.id)


def walk(project: Project) -> Iterator[Located]:
    """Every node of the project, depth first, in order."""
    for chapter in project.chapters:
        yield Located("chapter", chapter, None, project.chapters)
        for scene in chapter.scenes:
            yield Located("scene", scene, chapter, chapter.scenes)
            for shot in scene.shots:
                yield Located("shot", shot, scene, scene.shots)
                for take in shot.takes:
                    yield Located("take", take, shot, shot.takes)


def find(project: Project, node_id: str, kind: NodeKind | None = None) -> Located:
    """The node with `node_id` (of `kind`, if given), or `NodeNotFound`. In a lazy fork
    being changed (`forks.owning`), the node is copied first along its path (a chapter or
    scene with everything under it): what a change alters through it is the fork's own."""
    found, c, s, h, t = _position(project, node_id, kind)
    fork = forks.owned(project)
    if found == "chapter":
        chapter = fork.whole_chapter(c) if fork else project.chapters[c]
        return Located("chapter", chapter, None, project.chapters)
    chapter = fork.chapter(c) if fork else project.chapters[c]
    if found == "scene":
        scene = fork.whole_scene(chapter, s) if fork else chapter.scenes[s]
        return Located("scene", scene, chapter, chapter.scenes)
    scene = fork.scene(chapter, s) if fork else chapter.scenes[s]
    shot = fork.shot(scene, h) if fork else scene.shots[h]
    if found == "shot":
        return Located("shot", shot, scene, scene.shots)
    return Located("take", shot.takes[t], shot, shot.takes)


Position = tuple[NodeKind, int, int, int, int]
#: Where nodes were last found, by (project id, node id): a hint, checked before it is used
#: (a node moved or gone costs a scan, nothing else). A take's change in a film of 10,000
#: takes found its take by a scan that cost more than the rest of the change.
_hints: dict[tuple[str, str], Position] = {}
#: Hints kept at most; past this they are all dropped and found again.
_HINTS = 100_000


def _position(project: Project, node_id: str, kind: NodeKind | None) -> Position:
    """What the node with `node_id` is and where: the indices of its chapter, scene, shot and
    take (-1 below its own level), or `NodeNotFound`."""
    hint = _hints.get((project.id, node_id))
    if hint is not None and kind in (None, hint[0]) and _holds(project, hint, node_id):
        return hint
    found = _scan(project, node_id, kind)
    if len(_hints) >= _HINTS:
        _hints.clear()
    if found[0] == "take":  # its shot's other takes are likely to change next
        _, c, s, h, _ = found
        for t, take in enumerate(project.chapters[c].scenes[s].shots[h].takes):
            _hints[(project.id, take.id)] = ("take", c, s, h, t)
    else:
        _hints[(project.id, node_id)] = found
    return found


def _holds(project: Project, at: Position, node_id: str) -> bool:
    """Whether the node at `at` in `project` is the one with `node_id`."""
    found, c, s, h, t = at
    try:
        chapter = project.chapters[c]
        if found == "chapter":
            return chapter.id == node_id
        scene = chapter.scenes[s]
        if found == "scene":
            return scene.id == node_id
        shot = scene.shots[h]
        return (shot if found == "shot" else shot.takes[t]).id == node_id
    except IndexError:
        return False


def _scan(project: Project, node_id: str, kind: NodeKind | None) -> Position:
    # plain loops, not `walk`: this runs on changes of projects of 10,000 takes
    for c, chapter in enumerate(project.chapters):
        if chapter.id == node_id and kind in (None, "chapter"):
            return "chapter", c, -1, -1, -1
        for s, scene in enumerate(chapter.scenes):
            if scene.id == node_id and kind in (None, "scene"):
                return "scene", c, s, -1, -1
            for h, shot in enumerate(scene.shots):
                if shot.id == node_id and kind in (None, "shot"):
                    return "shot", c, s, h, -1
                if kind in (None, "take"):
                    for t, take in enumerate(shot.takes):
                        if take.id == node_id:
                            return "take", c, s, h, t
    what = kind or "node"
    raise NodeNotFound(f"No {what} {node_id!r} in project {project.id!r}.", {"nodeId": node_id})


def _taken(project: Project, candidates: set[str], shared: bool = False) -> bool:
    """Whether a node of the project has one of the ids `candidates` (a look at each of them,
    in C for a shot's takes, without a set of the film's ids).

    A scene of a shared snapshot (`shared`: the project as the manifest store keeps it, never
    changed) or one a lazy fork being changed has not copied is never changed: the ids under
    it are kept (`_ids_under`), and a film's other scenes cost a look each, not a scan of
    their takes (10,000 takes took 1.8 ms a submit)."""
    fork = None if shared else forks.owned(project)
    for chapter in project.chapters:
        if chapter.id in candidates:
            return True
        for scene in chapter.scenes:
            if shared or (fork is not None and not fork.owns(scene)):
                ids = _ids_under(project.id, scene)
                if ids is not None:
                    if not candidates.isdisjoint(ids):
                        return True
                    continue
            if scene.id in candidates:
                return True
            for shot in scene.shots:
                if shot.id in candidates or not candidates.isdisjoint(map(_ID, shot.takes)):
                    return True
    return False


#: The ids under scenes that are never changed (see `_taken`), by (project id, scene id): the
#: scene they were read from and its ids (None until the scene is looked at a second time: a
#: scene each change copies, the one a burst of takes goes to, is scanned, not made a set).
#: A scene's next version takes its place.
_scene_ids: dict[tuple[str, str], tuple[Scene, frozenset[str] | None]] = {}


def _ids_under(project_id: str, scene: Scene) -> frozenset[str] | None:
    """The ids of `scene`, its shots and their takes, from the second look at the same scene
    object on; None at the first (the caller scans it)."""
    key = (project_id, scene.id)
    kept = _scene_ids.get(key)
    if kept is None or kept[0] is not scene:
        if len(_scene_ids) >= _HINTS:
            _scene_ids.clear()
        _scene_ids[key] = (scene, None)
        return None
    if kept[1] is None:
        ids = {scene.id}
        for shot in scene.shots:
            ids.add(shot.id)
            ids.update(map(_ID, shot.takes))
        kept = _scene_ids[key] = (scene, frozenset(ids))
    return kept[1]


_ID = attrgetter("id")


def new_id(project: Project, kind: NodeKind) -> str:
    """A fresh id for a node of `kind`, unique in the project, stable for the node's life."""
    return new_ids(project, kind, 1)[0]


def new_ids(project: Project, kind: NodeKind, count: int, shared: bool = False) -> list[str]:
    """`count` fresh ids for nodes of `kind`, unique in the project and among themselves.
    `shared`: the project is a snapshot the manifest store keeps (never changed)."""
    while True:  # ids are drawn until none of them is taken (one draw all but always)
        fresh = {f"{_PREFIX[kind]}_{secrets.token_hex(4)}" for _ in range(count)}
        if len(fresh) == count and not _taken(project, fresh, shared):
            return list(fresh)


def shot_path(project: Project, shot_id: str) -> tuple[str, str, str]:
    """The (chapter id, scene id, shot id) of a shot: the folders of its renders."""
    shot = find(project, shot_id, "shot")
    scene = shot.parent
    assert scene is not None
    chapter = find(project, scene.id, "scene").parent
    assert chapter is not None
    return chapter.id, scene.id, shot_id


def _children_of(project: Project, kind: str, parent_id: str | None) -> list[Any]:
    parent_kind = _PARENT_KIND[kind]
    if parent_kind is None:
        if parent_id is not None:
            raise InvalidInput("A chapter has no parent; send parentId null.", {"kind": kind})
        return project.chapters
    if parent_id is None:
        raise InvalidInput(f"A {kind} needs a parentId (a {parent_kind} id).", {"kind": kind})
    parent = find(project, parent_id)
    if parent.kind != parent_kind:
        raise InvalidInput(
            f"The parent of a {kind} must be a {parent_kind}, not a {parent.kind}.",
            {"parentId": parent_id},
        )
    node = parent.node
    children: list[Any] = node.scenes if isinstance(node, Chapter) else node.shots  # type: ignore[union-attr]
    return children


def add(project: Project, request: NodeCreate) -> Located:
    """Add a chapter, scene or shot under its parent, at `index` or at the end."""
    siblings = _children_of(project, request.kind, request.parent_id)
    node_id = new_id(project, request.kind)
    node: Node
    if request.kind == "chapter":
        node = Chapter(id=node_id, name=request.name)
    elif request.kind == "scene":
        node = Scene(id=node_id, name=request.name)
    else:
        given = {f: getattr(request, f) for f in SHOT_FIELDS if getattr(request, f) is not None}
        node = Shot(id=node_id, name=request.name, **given)
    if request.kind != "shot" and any(getattr(request, f) for f in SHOT_FIELDS):
        raise InvalidInput(
            "Only shots have properties, a duration, prompts, a style and references.",
            {"kind": request.kind},
        )
    index = len(siblings) if request.index is None else min(request.index, len(siblings))
    siblings.insert(index, node)
    return find(project, node_id)


def patch(project: Project, node_id: str, request: NodePatch) -> Located:
    """Rename, move (`parentId`, `index`), or change a shot's properties, duration or selection."""
    located = find(project, node_id)
    node = located.node
    if located.kind == "take":
        raise InvalidInput("Takes are changed through their shot (selectedTake).", {"id": node_id})
    if request.name is not None:
        node.name = request.name  # type: ignore[union-attr]
    shot_only = {f: getattr(request, f) for f in (*SHOT_FIELDS, "selected_take")}
    if any(v is not None for v in shot_only.values()):
        if not isinstance(node, Shot):
            raise InvalidInput(
                "Only shots have properties, a duration, prompts, a style, references and takes.",
                {"id": node_id},
            )
        for field in SHOT_FIELDS:
            if shot_only[field] is not None:
                setattr(node, field, shot_only[field])
        if request.selected_take is not None:
            select_take(node, request.selected_take)
    fields = request.model_fields_set
    if "parent_id" in fields or "index" in fields:
        parent_id = request.parent_id if "parent_id" in fields else _parent_id(located)
        _move(project, located, parent_id, request.index)
    return find(project, node_id)


def select_take(shot: Shot, take_id: str) -> None:
    """Make `take_id` the shot's selected take ("" clears the selection)."""
    if take_id == "":
        shot.selected_take = None
        return
    if not any(t.id == take_id for t in shot.takes):
        raise NodeNotFound(f"Shot {shot.id!r} has no take {take_id!r}.", {"takeId": take_id})
    shot.selected_take = take_id


def _parent_id(located: Located) -> str | None:
    return located.parent.id if located.parent is not None else None


def _move(project: Project, located: Located, parent_id: str | None, index: int | None) -> None:
    target = _children_of(project, located.kind, parent_id)
    located.siblings.remove(located.node)
    position = len(target) if index is None else min(index, len(target))
    target.insert(position, located.node)


def remove(project: Project, node_id: str) -> Located:
    """Remove a node with everything under it (the take files stay on disk and in git)."""
    located = find(project, node_id)
    located.siblings.remove(located.node)
    parent = located.parent
    if isinstance(parent, Shot) and parent.selected_take == node_id:
        parent.selected_take = None
    return located


def replace_reference(project: Project, old: str, new: str | None) -> list[str]:
    """Point the shots that reference the file `old` (or a file under the folder `old`) at
    `new` instead, or drop the reference when `new` is None; the ids of the shots changed."""
    changed = []
    prefix = f"{old}/"
    for chapter in project.chapters:
        for scene in chapter.scenes:
            for shot in scene.shots:
                if not any(r == old or r.startswith(prefix) for r in shot.references):
                    continue
                references: list[str] = []
                for ref in shot.references:
                    if ref == old or ref.startswith(prefix):
                        if new is None:
                            continue
                        ref = new + ref[len(old) :]
                    if ref not in references:
                        references.append(ref)
                shot.references = references
                changed.append(shot.id)
    return changed


def counts(project: Project) -> tuple[int, int]:
    """(shots, takes) in the project."""
    shots = takes = 0
    for chapter in project.chapters:
        for scene in chapter.scenes:
            shots += len(scene.shots)
            takes += sum(len(shot.takes) for shot in scene.shots)
    return shots, takes
