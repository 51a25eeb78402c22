"""Handles on a project's parts for notebooks: film → chapter → scene → shot → take, and assets.

A handle holds ids, never a stale copy: every read goes to the manifest on disk and every
change through the one manifest writer, so panels and notebooks always agree.
"""

from __future__ import annotations

import base64
import contextlib
import html
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import assets as asset_files
from ..core import exports, hierarchy, limits
from ..core.assets import preview_png
from ..core.errors import InvalidInput, NotFound
from ..core.files import UploadSink
from ..core.takes import find_take
from ..core.vcs import check_message
from ..core.workflows import TemplateList
from ..models import (
    Asset,
    Chapter,
    ExportRequest,
    NodeCreate,
    NodePatch,
    Project,
    Scene,
    Shot,
    TaskRecord,
    TrashItem,
)
from ..models import Take as TakeModel
from .exports import Export
from .widgets import TakeGallery

if TYPE_CHECKING:
    from .studio import Studio, Task

_PREVIEW = 192


def _preview(film: Film, take: TakeModel, size: int = _PREVIEW) -> bytes | None:
    """A small PNG of a take's image (None for other media, or before it has a file)."""
    return preview_png(film.path / take.file, size) if take.file else None


def _img(data: bytes | None, alt: str, width: int = 192) -> str:
    if not data:
        return ""
    src = "data:image/png;base64," + base64.b64encode(data).decode()
    return f'<img src="{src}" alt="{html.escape(alt)}" style="width:{width}px;border-radius:3px">'


def _delete_node(film: Film, node_id: str) -> TrashItem:
    studio = film.studio
    studio.connect_tasks()
    _, record = studio.core.trash.delete_node(film.id, node_id, by=studio.author.name)
    return studio.core.trash.public(record)


class Film:
    """A project."""

    def __init__(self, studio: Studio, project_id: str) -> None:
        self.studio = studio
        self.id = project_id

    @property
    def manifest(self) -> Project:
        """project.json as it is now: a shared, read-only snapshot (change it with `update`)."""
        return self.studio.core.projects.get(self.id)

    @property
    def name(self) -> str:
        """The project's name."""
        return self.manifest.name

    @property
    def path(self) -> Path:
        """The project's folder."""
        return self.studio.core.projects.path(self.id)

    @property
    def assets(self) -> AssetLibrary:
        """The asset library (locations, characters, music, styles)."""
        return AssetLibrary(self)

    def update(self, change: Any) -> Any:
        """Apply `change(project)` through the manifest writer; what it returned."""
        _, outcome = self.studio.core.manifests.update(self.id, change)
        return outcome

    def check_properties(self, properties: dict[str, Any]) -> None:
        """Refuse shot properties beyond the workspace's JSON limits (as REST would)."""
        limits.check(properties, self.studio.core.limits, "The shot's properties", measure=True)

    def chapter(self, name: str) -> ChapterHandle:
        """The chapter with that name (or id), created at the end if missing."""
        for chapter in self.manifest.chapters:
            if name in (chapter.id, chapter.name):
                return ChapterHandle(self, chapter.id)
        located = self.update(lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name=name)))
        return ChapterHandle(self, located.node.id)

    def chapters(self) -> list[ChapterHandle]:
        """Every chapter, in order."""
        return [ChapterHandle(self, c.id) for c in self.manifest.chapters]

    def scene(self, name: str) -> SceneHandle:
        """An existing scene anywhere in the project, by name or id."""
        for located in hierarchy.walk(self.manifest):
            if located.kind == "scene" and name in (located.node.id, located.node.name):  # type: ignore[union-attr]
                return SceneHandle(self, located.node.id)
        raise NotFound(f"No scene {name!r} in project {self.id!r}.")

    def shots(self) -> list[ShotHandle]:
        """Every shot of the film, in story order."""
        return [
            ShotHandle(self, located.node.id)
            for located in hierarchy.walk(self.manifest)
            if located.kind == "shot"
        ]

    def tasks(self, limit: int | None = 100) -> list[TaskRecord]:
        """The project's generation tasks, newest first: the last `limit` (None: all kept).

        Read page by page, as the REST API answers them (`more`, `nextCursor`).
        """
        out: list[TaskRecord] = []
        cursor: str | None = None
        while limit is None or len(out) < limit:
            size = 500 if limit is None else min(500, limit - len(out))
            page = self.studio.tasks.list(self.id, size, cursor)
            out.extend(page.tasks)
            if not page.more or page.next_cursor is None:
                break
            cursor = page.next_cursor
        return out

    def delete(self) -> TrashItem:
        """Move the whole project to the trash (`studio.trash()` brings it back)."""
        self.studio.connect_tasks()
        return self.studio.core.trash.public(
            self.studio.core.trash.delete_project(self.id, by=self.studio.author.name)
        )

    def templates(self, pipeline: str = "comfyui") -> TemplateList:
        """The workflow templates this film can use (its own, then the library's), each with
        the parameters it takes, and the one each quality tier picks.

        Make a take with one: ``shot.generate("comfyui", template="portrait", prompt="…")``.
        """
        from ..tasks.registry import PipelineRegistry
        from ..tasks.service import template_list

        registry = PipelineRegistry(self.studio.config.pipelines_path)
        return template_list(self.studio.core, registry, pipeline, self.id)

    def commit(self, message: str) -> str | None:
        """Commit the project's changes (media through LFS); the commit id, None if clean."""
        repo = self.studio.core.projects.repo(self.id)
        return repo.commit(check_message(message), self.studio.author)

    def export(
        self,
        kind: str = "animatic",
        scope: str | _Node | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
    ) -> Export | Task:
        """Export the film, a chapter or a scene (by name, id or handle) for an editor.

        `kind` is animatic (MP4), otio (OpenTimelineIO), edl (CMX 3600), fcpxml (FCP 7 XML)
        or boards (storyboard PDF + PNG). Shots without a selected take are held as named gaps.
        Waits for the export and returns it; with `wait=False`, returns the running task.
        """
        request = ExportRequest(kind=exports.parse_kind(kind), scope=self._scope_id(scope))
        label = f"{exports.KINDS[request.kind].label} of {self._scope_name(request.scope)}"
        task = self.studio.export(self.id, request, label)
        if not wait:
            return task
        task.result(timeout)
        result = task.record.result
        assert result is not None and result.export is not None
        return Export(self.path, result.export)

    def exports(self) -> list[Export]:
        """The film's exports in `06_Exports/`, newest first."""
        root = self.path
        return [Export(root, info) for info in exports.list_exports(self.id, root)]

    def export_animatic(
        self, scene: str | None = None, timeout: float | None = None, **parameters: Any
    ) -> Path:
        """Cut the selected takes of a scene (or the whole film) into an MP4; its path."""
        if parameters:  # tuning the encoder: straight to the pipeline
            node = self.scene(scene).id if scene else self.id
            label = f"animatic of {scene or self.name}"
            task = self.studio.submit(self.id, node, "animatic", parameters, label)
            path: Path = task.result(timeout)
            return path
        made = self.export("animatic", self.scene(scene) if scene else None, timeout=timeout)
        assert isinstance(made, Export)
        return made.path

    def _scope_id(self, scope: str | _Node | None) -> str | None:
        if scope is None:
            return None
        if isinstance(scope, _Node):
            return scope.id
        for located in hierarchy.walk(self.manifest):
            if located.kind in ("chapter", "scene") and scope in (
                located.node.id,
                getattr(located.node, "name", None),
            ):
                return located.node.id
        raise NotFound(f"No chapter or scene {scope!r} in project {self.id!r}.")

    def _scope_name(self, scope_id: str | None) -> str:
        if scope_id is None:
            return self.name
        return str(getattr(hierarchy.find(self.manifest, scope_id).node, "name", scope_id))

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        project = self.manifest
        shots, takes = hierarchy.counts(project)
        items = []
        for chapter in project.chapters:
            scenes = ", ".join(
                f"{html.escape(s.name)} ({len(s.shots)} shot{'s' if len(s.shots) != 1 else ''})"
                for s in chapter.scenes
            )
            items.append(f"<li><b>{html.escape(chapter.name)}</b>: {scenes or '—'}</li>")
        body = (
            f"<div class='gms-film'><b>{html.escape(project.name)}</b> "
            f"<code>{project.id}</code> · quality {project.quality.value} · "
            f"{shots} shots · {takes} takes<ul>{''.join(items)}</ul></div>"
        )
        return {"text/html": body, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<Film {self.id!r}>"


class _Node:
    kind = ""

    def __init__(self, film: Film, node_id: str) -> None:
        self.film = film
        self.id = node_id

    def _node(self) -> Any:
        return hierarchy.find(self.film.manifest, self.id, self.kind).node  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        """The node's name."""
        return str(self._node().name)

    def delete(self) -> TrashItem:
        """Move the node, with everything under it and its takes' files, to the trash."""
        return _delete_node(self.film, self.id)

    def rename(self, name: str) -> None:
        """Give the node a new name (its id stays)."""
        self.film.update(lambda p: hierarchy.patch(p, self.id, NodePatch(name=name)))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.id})>"


class ChapterHandle(_Node):
    """A chapter."""

    kind = "chapter"

    def scene(self, name: str) -> SceneHandle:
        """The scene with that name (or id) in this chapter, created if missing."""
        chapter: Chapter = self._node()
        for scene in chapter.scenes:
            if name in (scene.id, scene.name):
                return SceneHandle(self.film, scene.id)
        located = self.film.update(
            lambda p: hierarchy.add(p, NodeCreate(kind="scene", parent_id=self.id, name=name))
        )
        return SceneHandle(self.film, located.node.id)


class SceneHandle(_Node):
    """A scene."""

    kind = "scene"

    def shot(
        self,
        name: str,
        duration: float | None = None,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        style: str | None = None,
        references: list[str] | None = None,
        **properties: Any,
    ) -> ShotHandle:
        """The shot with that name (or id), created if missing; what is given is set either way.

        `prompt`, `negative_prompt`, `style` and `references` (project-relative paths of assets
        or takes) are what its takes are generated from unless `generate` says otherwise.
        """
        what: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "style": style,
            "references": references,
        }
        scene: Scene = self._node()
        for shot in scene.shots:
            if name in (shot.id, shot.name):
                handle = ShotHandle(self.film, shot.id)
                if (duration is not None and duration != shot.duration) or any(
                    v is not None for v in what.values()
                ):
                    handle.set(duration=duration, **what)
                return handle
        self.film.check_properties(properties)
        request = NodeCreate(
            kind="shot",
            parent_id=self.id,
            name=name,
            duration=duration,
            properties=properties or None,
            **what,
        )
        located = self.film.update(lambda p: hierarchy.add(p, request))
        return ShotHandle(self.film, located.node.id)

    def shots(self) -> list[ShotHandle]:
        """The scene's shots, in order."""
        scene: Scene = self._node()
        return [ShotHandle(self.film, s.id) for s in scene.shots]

    def generate(self, pipeline: str, **parameters: Any) -> list[Task]:
        """Queue one take of every shot of the scene, each from its own prompt, style and
        references (`parameters` apply to all of them); `studio.wait(tasks)` follows them."""
        return [shot.generate(pipeline, **parameters) for shot in self.shots()]


class ShotHandle(_Node):
    """A shot: generate takes for it, pick one."""

    kind = "shot"

    @property
    def shot(self) -> Shot:
        """The shot as it is in the manifest now."""
        node: Shot = self._node()
        return node

    @property
    def duration(self) -> float:
        """Seconds the shot lasts in the cut."""
        return self.shot.duration

    @property
    def prompt(self) -> str:
        """What the shot's takes show, unless `generate` is given another prompt."""
        return self.shot.prompt

    @property
    def references(self) -> list[str]:
        """The shot's reference assets (project-relative paths); the first image is the init
        image of pipelines that take one."""
        return list(self.shot.references)

    def set(
        self,
        duration: float | None = None,
        *,
        prompt: str | None = None,
        negative_prompt: str | None = None,
        style: str | None = None,
        references: list[str] | None = None,
        **properties: Any,
    ) -> None:
        """Change the duration, prompts, style, references and/or properties (merged into the
        existing ones); what is not given stays."""
        merged = {**self.shot.properties, **properties} if properties else None
        if merged is not None:
            self.film.check_properties(merged)
        patch = NodePatch(
            duration=duration,
            properties=merged,
            prompt=prompt,
            negative_prompt=negative_prompt,
            style=style,
            references=references,
        )
        self.film.update(lambda p: hierarchy.patch(p, self.id, patch))

    def add_reference(self, asset: Asset | str) -> None:
        """Add an asset (or any project file, by path) to the shot's references."""
        path = asset if isinstance(asset, str) else asset.path
        if path not in self.shot.references:
            self.set(references=[*self.shot.references, path])

    def generate(self, pipeline: str, **parameters: Any) -> Task:
        """Queue a take; in a notebook a live progress widget shows it.

        What is not given comes from the shot: its prompt, negative prompt and style, and its
        first image reference as `init_image` where the pipeline takes one.
        """
        return self.film.studio.submit(
            self.film.id, self.id, pipeline, parameters, f"{self.name} · {pipeline}"
        )

    def generate_takes(self, count: int, pipeline: str, **parameters: Any) -> list[Task]:
        """Queue `count` takes at once, all or none, each a task of its own (see `generate`):
        the seed goes up by one from the one given, or each is drawn at random."""
        return self.film.studio.submit_all(
            self.film.id, self.id, pipeline, parameters, f"{self.name} · {pipeline}", count
        )

    @property
    def takes(self) -> list[Take]:
        """The shot's takes, oldest first."""
        return [Take(self.film, self.id, t.id) for t in self.shot.takes]

    @property
    def selected(self) -> Take | None:
        """The selected take, if any."""
        chosen = self.shot.selected_take
        return Take(self.film, self.id, chosen) if chosen else None

    def select(self, take: Take | str) -> None:
        """Make `take` the shot's selected take (the one the animatic uses)."""
        take_id = take if isinstance(take, str) else take.id
        self.film.update(lambda p: hierarchy.patch(p, self.id, NodePatch(selected_take=take_id)))

    def gallery(self) -> TakeGallery:
        """A widget of the shot's takes; clicking one selects it. It follows new takes live."""
        widget = TakeGallery(title=self.name)

        def fill() -> None:
            shot = self.shot
            rows = []
            for number, take in enumerate(shot.takes, start=1):
                preview = _preview(self.film, take)
                rows.append(
                    {
                        "id": take.id,
                        "label": f"Take {number}",
                        "status": take.status.value,
                        "caption": str(take.parameters.get("prompt", "")),
                        "src": "data:image/png;base64," + base64.b64encode(preview).decode()
                        if preview
                        else "",
                    }
                )
            with widget.hold_sync():
                widget.takes = rows
                widget.selected = shot.selected_take or ""

        def picked(change: dict[str, Any]) -> None:
            if change["new"] and change["new"] != self.shot.selected_take:
                self.select(str(change["new"]))

        widget.observe(picked, names="selected")
        fill()
        with contextlib.suppress(Exception):  # no broker: the gallery works, without following
            self.film.studio.on_project_event(
                self.film.id,
                lambda event: fill() if event.get("type") == "project_update" else None,
            )
        return widget

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        shot = self.shot
        cards = "".join(
            f"<figure style='margin:0 6px 0 0'>"
            f"{_img(_preview(self.film, t), t.id, 128)}"
            f"<figcaption>{'★ ' if t.id == shot.selected_take else ''}Take {number} · "
            f"{t.status.value}</figcaption></figure>"
            for number, t in enumerate(shot.takes, start=1)
        )
        body = (
            f"<div><b>{html.escape(shot.name)}</b> <code>{shot.id}</code> · "
            f"{shot.duration:g} s · {len(shot.takes)} takes"
            f"<div style='display:flex'>{cards}</div></div>"
        )
        return {"text/html": body, "text/plain": repr(self)}


class Take:
    """A take of a shot."""

    def __init__(self, film: Film, shot_id: str, take_id: str) -> None:
        self.film = film
        self.shot_id = shot_id
        self.id = take_id

    @property
    def take(self) -> TakeModel:
        """The take as it is in the manifest now."""
        _, take = find_take(self.film.manifest, self.id)
        return take

    @property
    def label(self) -> str:
        """ "Take N": its place in its shot, as the panels name it."""
        shot, _ = find_take(self.film.manifest, self.id)
        number = next(i for i, t in enumerate(shot.takes, start=1) if t.id == self.id)
        return f"Take {number}"

    @property
    def file(self) -> Path | None:
        """The take's media file."""
        relpath = self.take.file
        return self.film.path / relpath if relpath else None

    @property
    def status(self) -> str:
        """generating, completed, error or cancelled."""
        return self.take.status.value

    @property
    def seed(self) -> int | None:
        """The seed it was made with."""
        return self.take.seed

    @property
    def parameters(self) -> dict[str, Any]:
        """The parameters it was made with."""
        return dict(self.take.parameters)

    def delete(self) -> TrashItem:
        """Move the take (its file, sidecar and thumbnail) to the trash."""
        return _delete_node(self.film, self.id)

    def preview(self, size: int = _PREVIEW) -> bytes | None:
        """A small PNG of the take (images only)."""
        return _preview(self.film, self.take, size)

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        take = self.take
        prompt = html.escape(str(take.parameters.get("prompt", "")))
        body = (
            f"<div style='display:flex;gap:8px;align-items:center'>"
            f"{_img(_preview(self.film, take), take.id)}"
            f"<div><b>{self.label}</b> · {take.status.value}<br>"
            f"{take.pipeline} · seed {take.seed}<br><i>{prompt}</i></div></div>"
        )
        return {"text/html": body, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<{self.label} ({self.id}) {self.status}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Take) and other.id == self.id and other.film.id == self.film.id

    def __hash__(self) -> int:
        return hash((self.film.id, self.id))


class AssetLibrary:
    """A project's asset library."""

    def __init__(self, film: Film) -> None:
        self.film = film

    def add(self, category: str, source: str | Path, name: str | None = None) -> Asset:
        """Copy a file into a category (checked like an upload, never half-written)."""
        source = Path(source)
        if not source.is_file():
            raise InvalidInput(f"No file {str(source)!r} to add.")
        root = self.film.path
        target = asset_files.upload_target(
            root, category=category, name=name or source.name, path=None
        )
        sink = UploadSink(
            root / asset_files.UPLOADS, target, self.film.studio.config.max_upload_bytes
        )
        try:
            with open(source, "rb") as fh:
                shutil.copyfileobj(fh, _SinkWriter(sink), 1024 * 1024)
            final = sink.finish()
        except BaseException:
            sink.abort()
            raise
        return asset_files.describe(
            self.film.id, root, final, self.film.studio.config.thumbnail_size
        )

    def list(self, category: str | None = None) -> list[Asset]:
        """The assets of one category, or of all."""
        everything = asset_files.list_assets(
            self.film.id, self.film.path, self.film.studio.config.thumbnail_size
        )
        if category is None:
            return [a for group in everything.values() for a in group]
        return everything[asset_files.parse_category(category).value]

    def delete(self, asset: Asset | str) -> TrashItem:
        """Move an asset (or a folder of them) to the trash; `asset` or its project path."""
        studio = self.film.studio
        relpath = asset if isinstance(asset, str) else asset.path
        record = studio.core.trash.delete_asset(self.film.id, relpath, by=studio.author.name)
        return studio.core.trash.public(record)


class _SinkWriter:
    """A file-like writer into an `UploadSink`."""

    def __init__(self, sink: UploadSink) -> None:
        self.sink = sink

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        return len(data)
