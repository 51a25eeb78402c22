"""Typed events (one discriminated union) and the Redis bus that carries them.

The worker, the notebook and the server publish to the Redis pub/sub channel
`gms:events:{projectId}`; the server subscribes once per project and fans out to its WebSockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Annotated, Any, Literal

import redis
import redis.asyncio as aioredis
from pydantic import ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel

from .models import Asset, CamelModel, TaskRecord, TaskResult, TaskStatus

log = logging.getLogger(__name__)
CHANNEL_PREFIX = "gms:events:"


def channel(project_id: str) -> str:
    """The pub/sub channel of a project."""
    return f"{CHANNEL_PREFIX}{project_id}"


# --- server → client ------------------------------------------------------------------------


class Event(CamelModel):
    """Base of the events: every field is on the wire, so all are required in the schema."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        json_schema_serialization_defaults_required=True,
    )


class Hello(Event):
    """First message on a connection: the snapshot version to re-read from."""

    type: Literal["hello"] = "hello"
    project_id: str
    version: int
    client_id: str
    server_time: float


class TaskProgress(Event):
    """A task moved: queued, started, or a pipeline progress line."""

    type: Literal["task_progress"] = "task_progress"
    task_id: str
    node_id: str
    progress: float
    step: str
    status: TaskStatus
    seq: int
    pipeline: str = ""
    #: The latest preview picture of the work in progress (project-relative), if any.
    preview: str | None = None


def progress_of(record: TaskRecord) -> TaskProgress:
    """The `task_progress` event telling where a task's record stands now."""
    return TaskProgress(
        task_id=record.task_id,
        node_id=record.node_id,
        progress=record.progress,
        step=record.step or record.status.value,
        status=record.status,
        seq=record.seq,
        pipeline=record.pipeline,
        preview=record.preview,
    )


class TaskSuccess(Event):
    """A task finished with a take."""

    type: Literal["task_success"] = "task_success"
    task_id: str
    node_id: str
    result: TaskResult
    seq: int


class TaskFailed(Event):
    """A task failed or was cancelled."""

    type: Literal["task_failed"] = "task_failed"
    task_id: str
    node_id: str
    error: str
    seq: int
    cancelled: bool = False


class NodeStateUpdated(Event):
    """A node's state changed (a take generating, completed, failed)."""

    type: Literal["node_state_updated"] = "node_state_updated"
    node_id: str
    state: dict[str, Any]


class ProjectUpdate(Event):
    """A project file changed; `changes` says what, `version` is the new manifest version."""

    type: Literal["project_update"] = "project_update"
    project_id: str
    changes: dict[str, Any]
    version: int | None = None


class AssetAdded(Event):
    """A file appeared in (or changed in) the asset library."""

    type: Literal["asset_added"] = "asset_added"
    category: str
    asset: Asset


class AssetRemoved(Event):
    """A file left the asset library."""

    type: Literal["asset_removed"] = "asset_removed"
    category: str
    path: str


class Pong(Event):
    """Answer to a ping."""

    type: Literal["pong"] = "pong"
    time: float | None = None


class ErrorEvent(Event):
    """Something the client sent could not be done; the connection stays open."""

    type: Literal["error"] = "error"
    code: str
    message: str
    details: Any = None


class SelectionChanged(Event):
    """Another client of the project changed its selection (relayed)."""

    type: Literal["selection_change"] = "selection_change"
    client_id: str | None = None
    node_id: str | None = None
    selection: list[str] = Field(default_factory=list)


class PanelResized(Event):
    """Another client resized a panel (relayed)."""

    type: Literal["panel_resize"] = "panel_resize"
    client_id: str | None = None
    panel: str
    size: float


# --- client → server ------------------------------------------------------------------------


class StartGeneration(Event):
    """Ask for a take of a shot: `nodeType` is the pipeline id (e.g. `still`)."""

    type: Literal["start_generation"] = "start_generation"
    node_id: str
    node_type: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    request_id: str | None = None


class Ping(Event):
    """Heartbeat from the client."""

    type: Literal["ping"] = "ping"
    time: float | None = None


ServerEvent = Annotated[
    Hello
    | TaskProgress
    | TaskSuccess
    | TaskFailed
    | NodeStateUpdated
    | ProjectUpdate
    | AssetAdded
    | AssetRemoved
    | SelectionChanged
    | PanelResized
    | Pong
    | ErrorEvent,
    Field(discriminator="type"),
]
ClientMessage = Annotated[
    StartGeneration | SelectionChanged | PanelResized | Ping, Field(discriminator="type")
]
SERVER_EVENTS: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)
CLIENT_MESSAGES: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


def events_json_schema() -> dict[str, Any]:
    """JSON Schema of both unions, the source of the generated TypeScript types."""
    # what the server sends always has every field: mark defaults required (serialization mode)
    server = SERVER_EVENTS.json_schema(
        by_alias=True, ref_template="#/$defs/{model}", mode="serialization"
    )
    client = CLIENT_MESSAGES.json_schema(by_alias=True, ref_template="#/$defs/{model}")
    defs = {**server.pop("$defs", {}), **client.pop("$defs", {})}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "GMS events",
        "$defs": {**defs, "ServerEvent": server, "ClientMessage": client},
    }


def encode(event: CamelModel) -> str:
    """An event as the JSON text that goes over Redis and the WebSocket."""
    return json.dumps(event.wire(), separators=(",", ":"))


class EventPublisher:
    """Publishes events to a project's channel (sync: the worker, the notebook, core hooks)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def publish(self, project_id: str, event: CamelModel) -> None:
        """Send `event` to the project's listeners; a Redis outage is logged, not raised."""
        try:
            self.client.publish(channel(project_id), encode(event))
        except redis.RedisError as exc:
            log.warning("could not publish %s to %s: %s", event.__class__.__name__, project_id, exc)


Listener = Callable[[str], None]


class EventHub:
    """The server's one Redis subscriber: one channel per project with listeners, fan-out here.

    Reconnects with back-off when Redis goes away; listeners then get an `error` event with
    code `events_unavailable`, and a `project_update` with `resync` when events flow again.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.listeners: dict[str, set[Listener]] = {}
        self.versions: dict[str, int] = {}
        self.connected = False
        self._client: aioredis.Redis | None = None
        self._pubsub: aioredis.client.PubSub | None = None
        self._task: asyncio.Task[None] | None = None
        self._wanted: set[str] = set()

    def start(self) -> None:
        """Start listening (in the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._close()

    async def _close(self) -> None:
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._pubsub = self._client = None
        self.connected = False

    def add(self, project_id: str, listener: Listener) -> Callable[[], None]:
        """Listen to a project's events; returns the function that stops listening."""
        self.listeners.setdefault(project_id, set()).add(listener)
        self._wanted.add(channel(project_id))
        if self._pubsub is not None and self.connected:
            asyncio.get_running_loop().create_task(self._subscribe(channel(project_id)))

        def remove() -> None:
            listeners = self.listeners.get(project_id, set())
            listeners.discard(listener)
            if not listeners:
                self.listeners.pop(project_id, None)
                self._wanted.discard(channel(project_id))
                if self._pubsub is not None and self.connected:
                    asyncio.get_running_loop().create_task(self._unsubscribe(channel(project_id)))

        return remove

    async def _subscribe(self, name: str) -> None:
        with contextlib.suppress(Exception):
            assert self._pubsub is not None
            await self._pubsub.subscribe(name)

    async def _unsubscribe(self, name: str) -> None:
        with contextlib.suppress(Exception):
            assert self._pubsub is not None
            await self._pubsub.unsubscribe(name)

    def dispatch(self, project_id: str, raw: str) -> None:
        """Hand one event to every listener of the project (also used for local events)."""
        if '"project_update"' in raw:
            with contextlib.suppress(ValueError, TypeError):
                version = json.loads(raw).get("version")
                if isinstance(version, int):
                    self.versions[project_id] = max(version, self.versions.get(project_id, 0))
        for listener in list(self.listeners.get(project_id, ())):
            try:
                listener(raw)
            except Exception as exc:
                log.warning("event listener failed: %s", exc)

    def broadcast(self, raw: str) -> None:
        """Hand one event to every listener of every project (workspace-wide news)."""
        for project_id in list(self.listeners):
            self.dispatch(project_id, raw)

    def _broadcast_state(self, ok: bool) -> None:
        for project_id in list(self.listeners):
            if ok:
                event: CamelModel = ProjectUpdate(
                    project_id=project_id, changes={"resync": True}, version=None
                )
            else:
                event = ErrorEvent(
                    code="events_unavailable",
                    message="Live updates are interrupted (Redis does not answer); retrying.",
                )
            self.dispatch(project_id, encode(event))

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                self._client = aioredis.Redis.from_url(self.url, socket_connect_timeout=5)
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                # one fixed channel, so the connection is subscribed even with no project open
                await self._pubsub.subscribe(CHANNEL_PREFIX.rstrip(":"), *self._wanted)
                if not self.connected and delay > 0.5:
                    self._broadcast_state(True)
                self.connected = True
                delay = 0.5
                while True:
                    message = await self._pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    name = message["channel"]
                    name = name.decode() if isinstance(name, bytes) else str(name)
                    data = message["data"]
                    raw = data.decode() if isinstance(data, bytes) else str(data)
                    self.dispatch(name.removeprefix(CHANNEL_PREFIX), raw)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.connected:
                    log.warning("event bus lost Redis (%s); reconnecting", exc)
                    self.connected = False
                    self._broadcast_state(False)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
