"""Pydantic models shared by server, worker and notebook: project.json, REST bodies, tasks."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

#: The OpenAPI schema of a free-form object (see `handlers/openapi.py`, FreeJson).
_FREE: dict[str, Any] = {"additionalProperties": {"$ref": "#/components/schemas/FreeJson"}}
_FREE_LIST: dict[str, Any] = {"items": {"type": "object", **_FREE}}


def utcnow() -> datetime:
    """The current time, timezone-aware, to the millisecond."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class CamelModel(BaseModel):
    """Base of every model that crosses a boundary: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys, as clients and project.json see it."""
        return self.model_dump(mode="json", by_alias=True)


class Quality(StrEnum):
    """The project's quality tier; the dispatcher maps it to a pipeline tier."""

    low = "low"
    standard = "standard"
    high = "high"


class TakeStatus(StrEnum):
    """Where a take is in its life."""

    generating = "generating"
    completed = "completed"
    error = "error"
    cancelled = "cancelled"


# --- project.json ---------------------------------------------------------------------------
# The manifest's models validate every assignment, so a change is checked as it is made and the
# manifest writer need not validate the whole tree again (see core/manifest.py). Takes are
# frozen: versions of a project share them, and a change replaces a take instead of editing it.


class ManifestModel(CamelModel):
    """A part of project.json: assignments are validated."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", validate_assignment=True
    )


# A number a client sends is a JSON number: `true` or "24" is refused, not read as 1 or 24
# (pydantic's lax mode would take them), so these fields are strict; an integer is still a
# number where a float is asked for.


class Resolution(ManifestModel):
    """Frame size in pixels."""

    width: int = Field(1280, ge=16, le=16384, strict=True)
    height: int = Field(720, ge=16, le=16384, strict=True)


class ProjectSettings(ManifestModel):
    """Per-project render settings."""

    fps: float = Field(24.0, gt=0, le=240, strict=True)
    resolution: Resolution = Field(default_factory=Resolution)


class Canvas(ManifestModel):
    """The node canvas saved with the project (filled by a future canvas view)."""

    nodes: list[dict[str, Any]] = Field(default_factory=list, json_schema_extra=_FREE_LIST)
    edges: list[dict[str, Any]] = Field(default_factory=list, json_schema_extra=_FREE_LIST)
    viewport: dict[str, Any] = Field(
        default_factory=lambda: {"x": 0, "y": 0, "zoom": 1}, json_schema_extra=_FREE
    )


class Take(CamelModel):
    """One generated result of a shot; `file` is relative to the project root.

    Frozen: change a take with `core.takes` (which replaces it in its shot).
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    id: str
    file: str | None = None
    pipeline: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    status: TakeStatus = TakeStatus.generating
    created: datetime = Field(default_factory=utcnow)
    task_id: str | None = None
    tier: str | None = None
    thumbnail: str | None = None
    error: str | None = None


def _project_relative(path: str) -> str:
    """A path inside the project as written in project.json: relative, `/`-separated, no `..`."""
    parts = path.split("/")
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(f"{path!r} is not a path relative to the project")
    return path


#: A file of the project, by its project-relative path (`01_Assets/Characters/mara.png`).
ProjectPath = Annotated[str, Field(max_length=1024), AfterValidator(_project_relative)]
#: A shot's prompt or negative prompt.
PromptText = Annotated[str, Field(max_length=4000)]
#: A shot's style: words added to its prompt (or the pipeline's `style`, when it has one).
StyleText = Annotated[str, Field(max_length=1000)]
#: A shot's reference assets: at most this many.
MAX_REFERENCES = 32


class Shot(ManifestModel):
    """A shot: the unit that takes are generated for.

    `prompt`, `negative_prompt`, `style` and `references` are what its takes are generated
    from unless a request says otherwise (see `tasks.service`); `properties` are free-form.
    """

    id: str
    name: str
    duration: float = Field(3.0, gt=0, le=3600)
    prompt: PromptText = ""
    negative_prompt: PromptText = ""
    style: StyleText = ""
    references: list[ProjectPath] = Field(default_factory=list, max_length=MAX_REFERENCES)
    properties: dict[str, Any] = Field(default_factory=dict)
    takes: list[Take] = Field(default_factory=list)
    selected_take: str | None = None


class Scene(ManifestModel):
    """A scene: an ordered list of shots."""

    id: str
    name: str
    shots: list[Shot] = Field(default_factory=list)


class Chapter(ManifestModel):
    """A chapter: an ordered list of scenes."""

    id: str
    name: str
    scenes: list[Scene] = Field(default_factory=list)


class Project(ManifestModel):
    """The manifest, `project.json`: the one source of truth of a project's hierarchy."""

    id: str
    name: str
    created: datetime = Field(default_factory=utcnow)
    quality: Quality = Quality.standard
    version: int = 1
    settings: ProjectSettings = Field(default_factory=ProjectSettings)
    canvas: Canvas = Field(default_factory=Canvas)
    chapters: list[Chapter] = Field(default_factory=list)


NodeKind = Literal["chapter", "scene", "shot", "take"]


# --- REST bodies ----------------------------------------------------------------------------


def _visible_name(name: str) -> str:
    """A name, stripped: some visible text, no NUL or control characters."""
    name = name.strip()
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        raise ValueError("the name contains NUL, control characters or lone surrogates")
    if not any(ch.isprintable() and not ch.isspace() for ch in name):
        raise ValueError("the name has no visible character")
    return name


#: No control characters, and something besides spaces (the OpenAPI document says so).
_VISIBLE = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x1f\x7f-\x9f\s][^\x00-\x1f\x7f-\x9f]*$"
#: A project's name as a user gives it (1 to 120 characters, something visible in it).
ProjectName = Annotated[
    str, Field(min_length=1, max_length=120, pattern=_VISIBLE), AfterValidator(_visible_name)
]
#: A chapter's, scene's or shot's name (1 to 200 characters, something visible in it): names
#: go into commit messages, exports and file names, where a NUL or a newline cannot go.
NodeName = Annotated[
    str, Field(min_length=1, max_length=200, pattern=_VISIBLE), AfterValidator(_visible_name)
]


class ProjectCreate(CamelModel):
    """Body of `POST /gms/api/projects`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: ProjectName
    quality: Quality = Quality.standard
    settings: ProjectSettings | None = None


class ProjectPatch(CamelModel):
    """Body of `PATCH /gms/api/projects/{id}`: only the fields given change."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: ProjectName | None = None
    quality: Quality | None = None
    settings: ProjectSettings | None = None
    canvas: Canvas | None = None


class ManifestDamage(CamelModel):
    """Why a project's manifest cannot be read: its path in the project, and the reason."""

    path: str
    reason: str


class ProjectSummary(CamelModel):
    """One row of the project list; a project whose manifest cannot be read has `damaged`.

    A damaged project is listed with its folder name as `name`, version 0 and no counts, so
    the user sees it (and can restore or delete it) instead of losing it from the list.
    """

    id: str
    name: str
    quality: Quality
    version: int
    created: datetime
    modified: datetime
    shot_count: int
    take_count: int
    damaged: ManifestDamage | None = None


class ProjectList(CamelModel):
    """Body of `GET /gms/api/projects`."""

    projects: list[ProjectSummary]


class NodeCreate(CamelModel):
    """Body of `POST /gms/api/projects/{id}/nodes`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    kind: Literal["chapter", "scene", "shot"]
    parent_id: str | None = None
    name: NodeName
    properties: dict[str, Any] | None = Field(None, json_schema_extra=_FREE)
    duration: float | None = Field(None, gt=0, le=3600, strict=True)
    prompt: PromptText | None = None
    negative_prompt: PromptText | None = None
    style: StyleText | None = None
    references: list[ProjectPath] | None = Field(None, max_length=MAX_REFERENCES)
    index: int | None = Field(None, ge=0, le=2**31, strict=True)


class NodePatch(CamelModel):
    """Body of `PATCH /gms/api/projects/{id}/nodes/{nodeId}`: rename, move, change properties."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: NodeName | None = None
    properties: dict[str, Any] | None = Field(None, json_schema_extra=_FREE)
    duration: float | None = Field(None, gt=0, le=3600, strict=True)
    prompt: PromptText | None = None
    negative_prompt: PromptText | None = None
    style: StyleText | None = None
    references: list[ProjectPath] | None = Field(None, max_length=MAX_REFERENCES)
    selected_take: str | None = None
    parent_id: str | None = None
    index: int | None = Field(None, ge=0, le=2**31, strict=True)


class NodeInfo(CamelModel):
    """A node of the hierarchy as answered by the nodes endpoints."""

    id: str
    kind: NodeKind
    name: str
    parent_id: str | None
    index: int
    version: int
    node: dict[str, Any]


class AssetCategory(StrEnum):
    """The asset library's four categories; `folder` is their folder under `01_Assets`."""

    locations = "locations"
    characters = "characters"
    music = "music"
    styles = "styles"

    @property
    def folder(self) -> str:
        """The category's folder name under `01_Assets` (`Characters`)."""
        return self.value.capitalize()


MediaKind = Literal["image", "video", "audio", "model", "document", "other"]


class Asset(CamelModel):
    """A file of the asset library (or any project file, in the files listing)."""

    path: str
    name: str
    category: AssetCategory | None
    kind: MediaKind
    size: int
    modified: datetime
    url: str
    thumbnail: str | None = None
    folder: str = ""


class AssetList(CamelModel):
    """Body of `GET /gms/api/projects/{id}/assets`: every category, even when empty, and each
    category's folders (relative to the category, empty ones too)."""

    categories: dict[str, list[Asset]]
    folders: dict[str, list[str]] = Field(default_factory=dict)


class AssetMove(CamelModel):
    """Body of `PATCH /gms/api/projects/{id}/assets/{path}`: rename, or move to another
    category or folder (`""` is the category's top); what is left out stays."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: str | None = Field(None, min_length=1, max_length=255)
    category: str | None = None
    folder: str | None = Field(None, max_length=1024)


class AssetFolderCreate(CamelModel):
    """Body of `POST /gms/api/projects/{id}/assets/folders`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    category: str
    folder: str = Field(min_length=1, max_length=1024)


class AssetFolder(CamelModel):
    """A folder of the asset library."""

    category: str
    folder: str
    path: str


class FileEntry(CamelModel):
    """One row of `GET /gms/api/projects/{id}/files`; a `symlink` leads outside the project."""

    path: str
    kind: MediaKind | Literal["directory", "symlink"]
    size: int
    modified: datetime


class FileList(CamelModel):
    """Body of `GET /gms/api/projects/{id}/files`."""

    files: list[FileEntry]


class UploadResult(CamelModel):
    """Body of a successful upload: the files now in place."""

    assets: list[Asset]


class ToolHealth(CamelModel):
    """Whether an external tool is usable, with its version or what is wrong."""

    ok: bool
    version: str | None = None
    message: str | None = None


class WorkspaceConfig(CamelModel):
    """Body of `GET /gms/api/workspace/config`."""

    workspace: str
    projects_dir: str
    library_dir: str
    qualities: list[Quality]
    categories: list[str]
    max_upload_bytes: int
    runner: str
    auto_commit: bool
    user: dict[str, Any]
    health: dict[str, ToolHealth]
    #: The ComfyUI server the comfyui pipeline uses, and whether it was set (not the default).
    comfyui_url: str = ""
    comfyui_configured: bool = False


class GitFileStatus(CamelModel):
    """A changed path in the working tree."""

    path: str
    status: Literal["added", "modified", "deleted", "untracked", "renamed"]
    staged: bool


class GitStatus(CamelModel):
    """Body of `GET /gms/api/projects/{id}/git/status`."""

    branch: str | None
    head: str | None
    clean: bool
    files: list[GitFileStatus]
    lfs: bool


class GitCommitRequest(CamelModel):
    """Body of `POST /gms/api/projects/{id}/git/commit`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    message: str = Field(min_length=1, max_length=5000)
    paths: list[str] | None = None


class GitCommit(CamelModel):
    """One commit of the log, or the answer to a commit request."""

    sha: str
    message: str
    author: str
    email: str
    date: datetime
    files: list[str] = Field(default_factory=list)


class GitLog(CamelModel):
    """Body of `GET /gms/api/projects/{id}/git/log`."""

    commits: list[GitCommit]


class ErrorDetail(CamelModel):
    """The inside of every error answer."""

    code: str
    message: str
    details: Any = None


class ErrorBody(CamelModel):
    """Body of every 4xx: `{"error": {"code", "message", "details"}}`."""

    error: ErrorDetail


class ModelInfo(CamelModel):
    """A model in the workspace's `Library/AI_Models/` (read without loading its weights)."""

    name: str
    format: Literal["diffusers", "single-file"]
    family: str | None = None
    pipeline_class: str | None = None
    size: int
    #: Inside `Library/AI_Models/`: the folder, or the checkpoint file.
    path: str


class ModelList(CamelModel):
    """Body of `GET /gms/api/models`."""

    models: list[ModelInfo]
    folder: str


class Deleted(CamelModel):
    """Body of a successful delete: what went, and its item in the trash (to restore it)."""

    deleted: str
    trash_id: str | None = None


# --- trash ----------------------------------------------------------------------------------

TrashKind = Literal["project", "node", "take", "asset"]


class TrashItem(CamelModel):
    """Something deleted, waiting in the workspace trash until it is restored or erased."""

    id: str
    kind: TrashKind
    #: the project's, node's or file's name ("Take 3" for a take)
    name: str
    project_id: str
    project_name: str
    deleted: datetime
    #: when the retention period erases it (None: kept until emptied)
    expires: datetime | None = None
    #: bytes of files held
    size: int = 0
    #: project-relative paths of the files held (a project holds its whole folder: [])
    paths: list[str] = Field(default_factory=list)
    #: chapter, scene, shot or take, for nodes and takes
    node_kind: NodeKind | None = None
    #: where it was: the names of its parents (chapter, scene, shot) or its asset folder
    where: list[str] = Field(default_factory=list)
    parent_id: str | None = None
    index: int | None = None
    take_count: int = 0
    #: the project version the deletion wrote (nodes, takes)
    version: int | None = None
    deleted_by: str | None = None


class TrashRecord(TrashItem):
    """A trash item as kept on disk (`item.json`): with what restoring it needs."""

    #: the node as it was in project.json (nodes, takes)
    node: dict[str, Any] | None = None
    #: the id of the sibling before it (None: it was first)
    after: str | None = None
    #: the take was its shot's selected take
    selected: bool = False
    #: tasks still generating takes inside it when it was deleted
    task_ids: list[str] = Field(default_factory=list)


class TrashList(CamelModel):
    """Body of `GET /gms/api/trash`: newest first."""

    items: list[TrashItem]
    retention_days: float


class TrashRestored(CamelModel):
    """Body of a restore: the item restored and the project's version afterwards."""

    item: TrashItem
    project_id: str
    version: int | None = None


class TrashEmptied(CamelModel):
    """Body of emptying the trash: the ids erased."""

    deleted: list[str]


# --- exports -------------------------------------------------------------------------------

#: What the studio hands to an editor: the cut as a movie, as a timeline in three interchange
#: formats, or as a printed storyboard sheet.
ExportKind = Literal["animatic", "otio", "edl", "fcpxml", "boards"]
ScopeKind = Literal["film", "chapter", "scene"]


class ExportRequest(CamelModel):
    """Body of `POST /gms/api/projects/{id}/exports`: what to export, of which part."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    kind: ExportKind
    #: A chapter or scene id; null (or the project id) for the whole film.
    scope: str | None = None


class ExportGap(CamelModel):
    """A shot that has no picture in an export, held as a named gap of its duration."""

    shot_id: str
    name: str
    duration: float
    reason: str


class ExportInfo(CamelModel):
    """One export in `06_Exports/`: what it is, of what, when, and its files."""

    kind: ExportKind | Literal["other"]
    scope: str | None = None
    scope_kind: ScopeKind | None = None
    scope_name: str | None = None
    path: str
    files: list[str] = Field(default_factory=list)
    created: datetime
    size: int
    url: str
    task_id: str | None = None
    shots: int | None = None
    duration: float | None = None
    fps: float | None = None
    gaps: list[ExportGap] = Field(default_factory=list)
    author: dict[str, str] | None = None


class ExportList(CamelModel):
    """Body of `GET /gms/api/projects/{id}/exports`, newest first."""

    exports: list[ExportInfo]


# --- tasks ----------------------------------------------------------------------------------


class TaskStatus(StrEnum):
    """Where a generation task is in its life."""

    pending = "pending"
    running = "running"
    completed = "completed"
    error = "error"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the task can change no more."""
        return self in (TaskStatus.completed, TaskStatus.error, TaskStatus.cancelled)


class TaskSubmit(CamelModel):
    """Body of `POST /gms/api/tasks/submit`."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    project_id: str = Field(min_length=1)
    node_id: str = Field(min_length=1)
    pipeline: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict, json_schema_extra=_FREE)
    #: Takes to make at once (a pipeline that makes takes): each its own task, the seed going
    #: up by one from the one given (or each drawn at random); all queued or none.
    count: int = Field(1, ge=1, strict=True)


class TaskAccepted(CamelModel):
    """Body of a 202 from submit: the task (the first one) and, with `count`, all of them."""

    task_id: str
    task_ids: list[str] = Field(default_factory=list)


class TaskResult(CamelModel):
    """What a successful task made (an export also says what it is, in `export`)."""

    output_path: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    take_id: str | None = None
    outputs: list[str] = Field(default_factory=list)
    export: ExportInfo | None = None


class TaskRecord(CamelModel):
    """A task's record in Redis: the status endpoint's body."""

    task_id: str
    project_id: str
    node_id: str
    pipeline: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    status: TaskStatus = TaskStatus.pending
    progress: float = 0.0
    step: str = ""
    #: The latest preview of the work in progress (project-relative, under 05_Cache/previews).
    preview: str | None = None
    seq: int = 0
    result: TaskResult | None = None
    error: str | None = None
    tier: str | None = None
    take_id: str | None = None
    runner: str | None = None
    attempts: int = 0
    author: dict[str, str] | None = None
    target: str | None = None
    #: The shot's style and reference assets when the take was asked for (in its sidecar).
    style: str = ""
    references: list[str] = Field(default_factory=list)
    created: datetime = Field(default_factory=utcnow)
    started: datetime | None = None
    finished: datetime | None = None


class TaskList(CamelModel):
    """Body of `GET /gms/api/tasks?projectId=`: one page, newest first.

    `more` says older tasks exist: ask again with `cursor=<nextCursor>` for the next page.
    """

    tasks: list[TaskRecord]
    more: bool = False
    next_cursor: str | None = None
    total: int | None = None


#: The same shape, as the task records answer a page.
TaskPage = TaskList
