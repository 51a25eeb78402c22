"""Typed events (one discriminated union) and the Redis bus that carries them.

The worker, the notebook and the server publish to the Redis pub/sub channel
`gms:events:{projectId}`; the server subscribes once per project and fans out to its WebSockets.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import queue
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import hiredis
import redis
from pydantic import ConfigDict, Field, TypeAdapter
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticSerializationError
from redis.asyncio.connection import SSLConnection, parse_url

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


class EventsUnavailable(Event):
    """Live events are interrupted (Redis does not answer); a `project_update` with
    `changes.resync` follows when they flow again: re-read the snapshot then."""

    type: Literal["events_unavailable"] = "events_unavailable"
    message: str
    since: float


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
    size: float = Field(strict=True)  # a JSON number, as every number a client sends


# --- client → server ------------------------------------------------------------------------


class StartGeneration(Event):
    """Ask for a take of a shot (or `count` takes of it at once, as `POST tasks/submit`):
    `nodeType` is the pipeline id (e.g. `still`)."""

    type: Literal["start_generation"] = "start_generation"
    node_id: str = Field(min_length=1)
    node_type: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)
    count: int = Field(1, ge=1, strict=True)
    request_id: str | None = None


class Ping(Event):
    """Heartbeat from the client."""

    type: Literal["ping"] = "ping"
    time: float | None = Field(None, strict=True)


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
    | ErrorEvent
    | EventsUnavailable,
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
    """An event as the JSON text that goes over Redis and the WebSocket (compact, UTF-8;
    pydantic encodes it directly, a few times faster than `json.dumps` of its dict)."""
    try:
        return event.model_dump_json(by_alias=True)
    except (PydanticSerializationError, UnicodeError):  # a lone surrogate, say: escaped here
        return json.dumps(event.wire(), separators=(",", ":"))


#: Events sent in one round trip at most.
_BATCH = 256


class EventPublisher:
    """Publishes events to a project's channel without ever making the caller wait on Redis.

    `publish` only queues the event (bounded); one thread per process sends the queue in order.
    When Redis does not answer, events are dropped (counted, logged once per outage): the
    server's hub notices the outage itself and tells its clients to resync when it ends.

    Each queued item gets a ticket (its place in the queue); the sender counts the items it is
    done with, so a thread can wait for its own events alone (`flush_mine`), woken when they
    are sent rather than looking every few milliseconds.
    """

    def __init__(self, client: redis.Redis, limit: int = 10_000) -> None:
        self.client = client
        self.limit = limit
        self.sent = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._failing = False
        self._flush_at_exit = False
        self._fresh_queue()

    def _fresh_queue(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, str] | Callable[[Any], None]] = (
            queue.SimpleQueue()
        )
        self._queued = 0  # tickets handed out: items put in the queue
        self._done = 0  # items the sender sent or dropped
        self._put_lock = threading.Lock()
        self._sent_cond = threading.Condition(threading.Lock())
        self._mine = threading.local()

    def publish(self, project_id: str, event: CamelModel) -> None:
        """Queue `event` for the project's listeners; returns at once."""
        if not self._put((channel(project_id), encode(event))) and not self._failing:
            log.warning("event queue full (%d): dropping %s", self.limit, event)

    def later(self, commands: Callable[[Any], None]) -> None:
        """Queue Redis commands that no one waits for: `commands(pipeline)` adds them to the
        sender's next round trip, in order with the events queued around them."""
        self._put(commands)

    def _put(self, item: tuple[str, str] | Callable[[Any], None]) -> bool:
        self._ensure_sender()
        with self._put_lock:
            if self._queued - self._done >= self.limit:
                self.dropped += 1
                return False
            self._queue.put(item)
            self._queued += 1
            self._mine.ticket = self._queued
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (at most `timeout` s) until every event queued so far was sent or dropped."""
        return self._wait_for(self._queued, timeout)

    def mine(self) -> int:
        """The ticket of the last item this thread queued (0: none yet), for `flush_mine`."""
        return int(getattr(self._mine, "ticket", 0))

    def flush_mine(self, timeout: float = 5.0, upto: int | None = None) -> bool:
        """Wait (at most `timeout` s) until the events this thread queued were sent or dropped
        (a task's before its message is acknowledged), not for the other threads' too; with
        `upto` (a ticket from `mine`), only those it had queued then."""
        return self._wait_for(self.mine() if upto is None else upto, timeout)

    def _wait_for(self, ticket: int, timeout: float) -> bool:
        if self._done >= ticket or self._pid != os.getpid():
            # nothing left, or a forked child that has published nothing yet: what it inherited
            # is its parent's to send (and the parent's sender may have held these locks)
            return True
        deadline = time.monotonic() + timeout
        with self._sent_cond:
            while self._done < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._sent_cond.wait(left)
        return True

    def _ensure_sender(self) -> None:
        # a forked child (a Celery pool process) needs a sender thread of its own
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            if self._pid != os.getpid():
                self._fresh_queue()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._send, daemon=True, name="gms-events")
            self._thread.start()
            if not self._flush_at_exit:
                atexit.register(self.flush, 2.0)  # a process ending sends what it queued
                self._flush_at_exit = True

    def _send(self) -> None:
        events = self._queue
        wire = _Wire(self.client)
        while True:
            # what queued up meanwhile goes in the same round trip, in order
            batch = [events.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(events.get_nowait())
                except queue.Empty:
                    break
            try:
                if all(isinstance(item, tuple) for item in batch):
                    wire.send([_command("PUBLISH", *i) for i in batch if isinstance(i, tuple)])
                else:
                    pipe = self.client.pipeline(transaction=False)
                    for item in batch:
                        if isinstance(item, tuple):
                            pipe.publish(*item)
                        else:
                            item(pipe)
                    pipe.execute()
                self.sent += len(batch)
                if self._failing:
                    log.info("events reach Redis again (%d dropped meanwhile)", self.dropped)
                    self._failing = False
            except redis.RedisError as exc:
                self.dropped += len(batch)
                if not self._failing:
                    log.warning("could not publish events (Redis: %s); dropping until back", exc)
                    self._failing = True
            finally:
                with self._sent_cond:
                    self._done += len(batch)
                    self._sent_cond.notify_all()


class _Wire:
    """The event sender's own connection to Redis. redis-py sets it up (address, password,
    database, TLS, timeouts); then commands are written to its socket and the replies read
    with hiredis, without redis-py's machinery around each command, which was most of the
    sender's time per event (≈ 90 µs of CPU a round trip, 30 µs this way).

    A connection found broken before any reply came (Redis restarted while it was idle) is
    made again and the commands sent once more; any other failure raises a `redis.RedisError`
    and the next round trip starts on a new connection."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.connection: redis.connection.AbstractConnection | None = None
        self.reader = hiredis.Reader()
        self.replied = 0

    def send(self, commands: list[bytes]) -> None:
        """Send the commands (RESP) in one write; wait for every reply. An error reply raises
        `redis.ResponseError` once all are read."""
        payload = b"".join(commands)
        for attempt in (1, 2):
            self.replied = 0
            try:
                failed = self._round_trip(payload, len(commands))
            except (OSError, hiredis.ProtocolError) as exc:
                self.close()
                if attempt == 2 or self.replied:
                    raise redis.ConnectionError(f"{type(exc).__name__}: {exc}") from exc
                continue
            if failed is not None:
                raise redis.ResponseError(str(failed))
            return

    def _round_trip(self, payload: bytes, count: int) -> Exception | None:
        if self.connection is None:
            pool = self.client.connection_pool
            connection = pool.connection_class(**pool.connection_kwargs)
            connection.connect()  # a refused connection raises redis.ConnectionError
            self.connection, self.reader = connection, hiredis.Reader()
        sock = self.connection._sock
        if sock is None:
            raise ConnectionError("not connected")
        sock.sendall(payload)
        failed: Exception | None = None
        while self.replied < count:
            reply = self.reader.gets()
            if reply is False:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("Redis closed the connection")
                self.reader.feed(data)
                continue
            self.replied += 1
            if isinstance(reply, hiredis.ReplyError) and failed is None:
                failed = reply
        return failed

    def close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()  # type: ignore[no-untyped-call]
            self.connection = None


Listener = Callable[[str], None]


def _command(*args: str) -> bytes:
    """A Redis command in the protocol's own encoding (RESP)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Subscription(asyncio.Protocol):
    """The hub's Redis connection in subscribed mode, read as its bytes arrive.

    Each published message goes to `on_message` straight from the socket's data: no coroutine,
    timeout or retry wrapper per message (redis-py's `PubSub.get_message` cost a third of the
    server's time per event). Replies to AUTH and PING are answered in order; a SUBSCRIBE is
    done when Redis confirms it.
    """

    def __init__(self, on_message: Callable[[str, str], None]) -> None:
        self.on_message = on_message
        self.reader = hiredis.Reader(encoding="utf-8", errors="replace")
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._replies: deque[asyncio.Future[Any]] = deque()
        self._confirming: dict[str, asyncio.Future[None]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                self._reply(reply)
        except hiredis.ProtocolError as exc:
            log.warning("event bus: Redis sent what is not its protocol (%s)", exc)
            if self.transport is not None:
                self.transport.close()

    def _reply(self, reply: Any) -> None:
        kind = reply[0] if isinstance(reply, list) and reply else None
        if kind == "message" and len(reply) == 3:
            self.on_message(reply[1], reply[2])
        elif kind == "subscribe":
            waiting = self._confirming.pop(reply[1], None)
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
        elif kind == "unsubscribe":
            pass
        elif self._replies:  # AUTH's OK, a PING's pong, or the error of either
            waiting = self._replies.popleft()
            if not waiting.done():
                if isinstance(reply, hiredis.ReplyError):
                    waiting.set_exception(ConnectionError(f"Redis: {reply}"))
                else:
                    waiting.set_result(reply)
        elif isinstance(reply, hiredis.ReplyError):
            log.warning("event bus: Redis refused a subscription: %s", reply)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)
        for waiting in [*self._replies, *self._confirming.values()]:
            if not waiting.done():
                waiting.set_exception(ConnectionError("Redis closed the connection"))
        self._replies.clear()
        self._confirming.clear()

    def _write(self, *args: str) -> None:
        if self.transport is None or self.transport.is_closing():
            raise ConnectionError("not connected to Redis")
        self.transport.write(_command(*args))

    def request(self, *args: str) -> asyncio.Future[Any]:
        """Send a command that gets a plain reply (AUTH, PING); the future of the reply."""
        self._write(*args)
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._replies.append(answer)
        return answer

    async def subscribe(self, *names: str) -> None:
        """Subscribe to channels; returns once Redis confirmed each."""
        loop = asyncio.get_running_loop()
        confirmed = [self._confirming.setdefault(name, loop.create_future()) for name in names]
        self._write("SUBSCRIBE", *names)
        await asyncio.gather(*confirmed)

    def unsubscribe(self, name: str) -> None:
        self._write("UNSUBSCRIBE", name)


class EventHub:
    """The server's one Redis subscriber: one channel per project with listeners, fan-out here.

    Redis is pinged every few seconds besides the subscription, so a Redis that hangs (not only
    one that closes its connections) is noticed within `timeout`. Listeners then get an
    `events_unavailable` event, and a `project_update` with `changes.resync` when events flow
    again; meanwhile it reconnects with back-off. `on_back` is called (in the event loop) each
    time Redis is reached again after an outage.
    """

    #: Seconds between liveness pings of Redis.
    PING_EVERY = 2.0

    def __init__(
        self, url: str, timeout: float = 5.0, on_back: Callable[[], None] | None = None
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.on_back = on_back
        self.listeners: dict[str, set[Listener]] = {}
        self.versions: dict[str, int] = {}
        self.connected = False
        #: when events stopped flowing (time.time()), None while they flow
        self.down_since: float | None = None
        self._sub: _Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._wanted: set[str] = set()
        self._closing = False
        #: set while the connection is up and subscribed to every wanted channel
        self._up = asyncio.Event()
        #: subscriptions sent for new listeners, by project, until they are written
        self._joining: dict[str, asyncio.Task[None]] = {}

    def start(self) -> None:
        """Start listening (in the running event loop)."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        self._closing = True
        task = self._task
        while task is not None and not task.done():
            # cancelled again while it runs: on Python 3.11 a `wait_for` whose inner call ends
            # at the same moment swallows the cancel, and the reconnect loop would go on
            task.cancel()
            await asyncio.wait({task}, timeout=1.0)
        if task is not None and not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it at exit
        await self._close()

    async def _close(self) -> None:
        sub, self._sub = self._sub, None
        self.connected = False
        self._up.clear()
        if sub is not None and sub.transport is not None:
            sub.transport.close()

    def add(self, project_id: str, listener: Listener) -> Callable[[], None]:
        """Listen to a project's events; returns the function that stops listening."""
        self.listeners.setdefault(project_id, set()).add(listener)
        self._wanted.add(channel(project_id))
        if self._sub is not None and self.connected:
            task = asyncio.get_running_loop().create_task(self._subscribe(channel(project_id)))
            self._joining[project_id] = task

            def written(done: asyncio.Task[None]) -> None:
                if self._joining.get(project_id) is done:
                    del self._joining[project_id]

            task.add_done_callback(written)

        def remove() -> None:
            listeners = self.listeners.get(project_id, set())
            listeners.discard(listener)
            if not listeners:
                self.listeners.pop(project_id, None)
                self._wanted.discard(channel(project_id))
                if self._sub is not None and self.connected:
                    with contextlib.suppress(ConnectionError):
                        self._sub.unsubscribe(channel(project_id))

        return remove

    async def joined(self, project_id: str) -> None:
        """Wait until Redis has the subscription of a listener just added (`add`), so that an
        event published from now on reaches it. While the hub is still connecting, wait for
        it (at most `timeout`); while Redis is down, return at once (the listener is told
        `events_unavailable`, and to resync when events flow again)."""
        if not self.connected and self.down_since is None and not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), self.timeout)
        task = self._joining.get(project_id)
        if task is not None:
            await asyncio.wait({task}, timeout=self.timeout)

    def unavailable(self) -> EventsUnavailable | None:
        """The `events_unavailable` event to tell a new client, while events do not flow."""
        if self.down_since is None:
            return None
        return EventsUnavailable(
            message="Live updates are interrupted (Redis does not answer); retrying. "
            "Changes are saved; the view catches up when they are back.",
            since=self.down_since,
        )

    async def _subscribe(self, name: str) -> None:
        with contextlib.suppress(Exception):
            assert self._sub is not None
            await asyncio.wait_for(self._sub.subscribe(name), self.timeout)

    async def _connect(self) -> _Subscription:
        """A connection to Redis (TCP, TLS or a Unix socket, as the URL says), authenticated."""
        params = parse_url(self.url)
        loop = asyncio.get_running_loop()
        sub = _Subscription(self._received)
        if "path" in params:
            made = loop.create_unix_connection(lambda: sub, params["path"])
        else:
            secure = (
                tls_context(params) if params.get("connection_class") is SSLConnection else None
            )
            host, port = params.get("host", "localhost"), params.get("port", 6379)
            made = loop.create_connection(lambda: sub, host, port, ssl=secure)
        await asyncio.wait_for(made, self.timeout)
        try:
            if params.get("password"):
                user = [params["username"]] if params.get("username") else []
                await asyncio.wait_for(sub.request("AUTH", *user, params["password"]), self.timeout)
        except BaseException:
            if sub.transport is not None:
                sub.transport.close()
            raise
        return sub

    def _received(self, name: str, raw: str) -> None:
        self.dispatch(name.removeprefix(CHANNEL_PREFIX), raw)

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

    def _went_down(self, reason: Exception) -> None:
        if self.down_since is not None:
            return
        log.warning("event bus lost Redis (%s); reconnecting", reason)
        self.down_since = time.time()
        event = self.unavailable()
        assert event is not None
        self.broadcast(encode(event))

    def _came_back(self) -> None:
        if self.down_since is None:
            return
        log.info("event bus reached Redis again: clients resync")
        self.down_since = None
        for project_id in list(self.listeners):
            event = ProjectUpdate(project_id=project_id, changes={"resync": True}, version=None)
            self.dispatch(project_id, encode(event))
        if self.on_back is not None:
            try:
                self.on_back()
            except Exception:
                log.exception("event bus: what follows Redis's return failed")

    async def _run(self) -> None:
        delay = 0.5
        while not self._closing:
            try:
                sub = self._sub = await self._connect()
                # one fixed channel, so the connection is subscribed even with no project open
                wanted = set(self._wanted)
                await asyncio.wait_for(
                    sub.subscribe(CHANNEL_PREFIX.rstrip(":"), *wanted), self.timeout
                )
                self.connected = True  # listeners added from now on subscribe themselves
                missed = self._wanted - wanted  # added while the first subscription was sent
                if missed:
                    await asyncio.wait_for(sub.subscribe(*missed), self.timeout)
                self._up.set()
                self._came_back()
                delay = 0.5
                await self._listen(sub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._went_down(exc)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _listen(self, sub: _Subscription) -> None:
        """Messages are dispatched as they arrive (`_Subscription`); this watches the
        connection: closed, or a ping unanswered (a hung Redis keeps its sockets open)."""
        while True:
            done, _ = await asyncio.wait({sub.lost}, timeout=self.PING_EVERY)
            if done:
                raise ConnectionError("Redis closed the connection")
            try:
                await asyncio.wait_for(sub.request("PING"), self.timeout)
            except TimeoutError as exc:
                raise ConnectionError("Redis does not answer a ping") from exc


#: `ssl_cert_reqs` of a `rediss://` URL, as redis-py reads it.
_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def tls_context(params: Mapping[str, Any]) -> ssl.SSLContext:
    """The TLS settings of a `rediss://` URL (`redis.connection.parse_url`), as the studio's
    other Redis clients read them: `ssl_cert_reqs` (none, optional, required: the default),
    `ssl_ca_certs` (the CA to verify the server with; the system's otherwise),
    `ssl_check_hostname` (on while verifying), `ssl_certfile` and `ssl_keyfile` (a client
    certificate, for a Redis that asks for one)."""
    wanted = str(params.get("ssl_cert_reqs") or "required").lower()
    if wanted not in _CERT_REQS:
        raise ValueError(f"ssl_cert_reqs must be one of {', '.join(_CERT_REQS)}, not {wanted!r}")
    context = ssl.create_default_context(cafile=params.get("ssl_ca_certs") or None)
    verify = _CERT_REQS[wanted]
    check = params.get("ssl_check_hostname")
    context.check_hostname = verify != ssl.CERT_NONE and (check is None or bool(check))
    context.verify_mode = verify
    if params.get("ssl_certfile"):
        context.load_cert_chain(params["ssl_certfile"], params.get("ssl_keyfile") or None)
    return context
