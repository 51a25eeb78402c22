"""WebSocket `/gms/ws/{projectId}`: live events of a project, generation requests, presence."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from pydantic import ValidationError
from tornado import websocket
from tornado.iostream import StreamClosedError

from ..core.errors import NotFound, StudioError, TooLarge
from ..core.limits import read_json
from ..events import (
    CLIENT_MESSAGES,
    ErrorEvent,
    Hello,
    PanelResized,
    Ping,
    Pong,
    SelectionChanged,
    StartGeneration,
    encode,
)
from ..models import TaskSubmit
from ..server import StudioServer
from .base import author_of

#: The close code for a client that fell behind: reconnect at once and re-read the snapshot.
FELL_BEHIND = 4008
#: Frames written to one client in one go, at most (one that is larger goes alone): what a
#: client that stopped reading holds in tornado's buffer, besides its counted outbox.
_BATCH_BYTES = 256 * 1024


class _Frames:
    """The WebSocket frame of the latest event, made once for all the clients it goes to.

    The hub hands one event (the same `str`) to every listener of a project in turn; the
    frame a server sends (unmasked, uncompressed) is the same bytes for each of them, so it
    is encoded once per event instead of once per client.
    """

    def __init__(self) -> None:
        self._raw: str | None = None
        self._frame = b""

    def of(self, raw: str) -> bytes:
        """The text frame carrying `raw` (FIN set, no mask)."""
        if raw is not self._raw:
            self._raw, self._frame = raw, text_frame(raw)
        return self._frame


def text_frame(raw: str) -> bytes:
    """A server → client WebSocket text frame of one message (RFC 6455 §5.2)."""
    payload = raw.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return head + payload


_frames = _Frames()


class _Flushes:
    """When the clients with frames waiting write them: at once when the server is quiet, and
    all together at most every `_FLUSH_EVERY` seconds while many clients get events fast.

    Fan-out is one socket write per client; at 1,000 events a second, writing each event to
    each client as it comes is 50,000 writes a second for 50 clients, more than one process
    keeps up with. Holding the frames of a busy fan-out a millisecond puts several events in
    each write: the latency stays bounded, and far lower than a server that cannot keep up.
    A few clients (a user or two) are never held.
    """

    def __init__(self) -> None:
        self._due: list[ProjectSocket] = []
        self._scheduled = False
        self._last = 0.0
        self._last_count = 0

    def due(self, client: ProjectSocket) -> None:
        self._due.append(client)
        if not self._scheduled:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            wait = self._last + _FLUSH_EVERY - loop.time()
            if wait > 0 and self._last_count >= _MANY_CLIENTS:
                loop.call_later(wait, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        self._last = asyncio.get_running_loop().time()
        due, self._due = self._due, []
        self._last_count = len(due)
        for client in due:
            client._pump()


#: While events keep coming to many clients, their waiting frames leave together this often.
_FLUSH_EVERY = 0.001
_MANY_CLIENTS = 8
_flushes = _Flushes()


class ProjectSocket(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """One client's live connection to one project.

    A client that stops reading must not make the server buffer its events without bound (and
    slow every other client): each client has its own outbox, and tornado holds at most one
    batch of its frames at a time. Past `ws_max_buffer` bytes waiting, the outbox is dropped and
    the client closed with `FELL_BEHIND` (4008), which it receives right after the batch in
    flight; its next connection resyncs from the snapshot.

    Fan-out is what a busy project costs (50 clients at 1,000 events/s are 50,000 messages a
    second), so a message costs each client as little as it can: the frame is made once per
    event (`_Frames`), queued as bytes, and what queued up while the previous write was under
    way leaves in one write (no per-message future or task, which tornado's `write_message`
    makes). An idle client gets each event at once; one that is being written to gets the next
    ones together when that write is done.
    """

    #: The open sockets of each project on this server (for presence relays).
    sockets: ClassVar[dict[str, set[ProjectSocket]]] = {}

    project_id = ""
    client_id = ""
    _cleanup: list[Callable[[], None]]
    _waiting = 0
    _writing = False
    _behind = False
    #: events heard before `hello` was sent: they follow it, in order
    _early: list[str] | None = None
    _outbox: deque[bytes]

    @property
    def server(self) -> StudioServer:
        """The server's running services."""
        server: StudioServer = self.settings["gms_server"]
        return server

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        """Authenticate (token, cookie) before the upgrade; the origin is checked by the mixin."""
        await super().get(*args, **kwargs)

    async def open(self, project_id: str) -> None:
        super().open()
        self._cleanup = []
        self._outbox = deque()
        self.project_id = project_id
        self.client_id = secrets.token_hex(6)
        try:
            project = await asyncio.to_thread(self.server.core.projects.get, project_id)
        except StudioError as exc:
            self.send_event(ErrorEvent(code=exc.code, message=exc.message, details=exc.details))
            if isinstance(exc, NotFound):
                self.close(4404, "unknown project")
            else:
                self.close(4409, "project unreadable")
            return
        await asyncio.wait_for(self.server.ready.wait(), timeout=60)
        if self.server.hub is not None:
            self._early = []
            self._cleanup.append(self.server.hub.add(project_id, self._relay))
            # `hello` promises every event published after it: Redis has the subscription first
            await self.server.hub.joined(project_id)
        if self.ws_connection is None or self.ws_connection.is_closing():
            self.on_close()  # the client left while it waited: nothing of it stays behind
            return
        if self.server.watcher is not None:
            self._cleanup.append(self.server.watcher.watch(project_id))
        self.sockets.setdefault(project_id, set()).add(self)
        self.send_event(
            Hello(
                project_id=project_id,
                version=project.version,
                client_id=self.client_id,
                server_time=time.time(),
            )
        )
        interrupted = self.server.hub.unavailable() if self.server.hub is not None else None
        if interrupted is not None:
            self.send_event(interrupted)
        if self.server.tasks is None:
            self.send_event(
                ErrorEvent(
                    code="tasks_unavailable",
                    message=f"Generation is unavailable: {self.server.error or 'starting'}",
                )
            )
        early, self._early = self._early, None
        for raw in early or ():
            self._relay(raw)

    def get_compression_options(self) -> None:
        """No per-message compression: frames are made once and shared by every client."""
        return None

    def _relay(self, raw: str) -> None:
        if self._early is not None:
            self._early.append(raw)
            return
        self._send(_frames.of(raw))

    def send_event(self, event: Any) -> None:
        """Send one typed event to this client (now: it may be followed by a close)."""
        self._send(text_frame(encode(event)), at_once=True)

    def _send(self, frame: bytes, at_once: bool = False) -> None:
        """Queue a frame for this client, or close a client that has too much waiting.

        The frames queued while the loop dispatches a burst of events leave together, in one
        write once the burst is dispatched (`at_once` writes now, unless a write is under way).
        """
        if self._behind or self.ws_connection is None or self.ws_connection.is_closing():
            return
        size = len(frame)
        if self._waiting + size > self.server.config.ws_max_buffer:
            self._fall_behind()
            return
        self._outbox.append(frame)
        self._waiting += size
        if not self._writing:
            if at_once:
                self._pump()
            else:
                self._writing = True  # a write is due: what comes meanwhile joins it
                _flushes.due(self)

    def _pump(self) -> None:
        # one batch at a time in tornado's buffer: the rest waits here, where it is counted
        self._writing = False
        outbox = self._outbox
        if self._behind or not outbox:
            return
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            self.on_close()
            return
        first = outbox.popleft()
        if outbox and len(first) < _BATCH_BYTES:
            batch, size = [first], len(first)
            while outbox and size + len(outbox[0]) <= _BATCH_BYTES:
                frame = outbox.popleft()
                batch.append(frame)
                size += len(frame)
            data = b"".join(batch)
        else:
            data = first
        self._waiting -= len(data)
        # the frames are complete (server frames are never masked; no compression is
        # negotiated), so they go on the connection's stream as they are
        stream = getattr(connection, "stream", None)
        if stream is None:
            self.on_close()
            return
        try:
            future = stream.write(data)
        except StreamClosedError:
            self.on_close()
            return
        if stream.writing():
            # the socket did not take it all: the next batch waits until it has
            self._writing = True
            future.add_done_callback(self._written)
        elif outbox:
            self._writing = True
            _flushes.due(self)

    def _written(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.on_close()  # the connection went away meanwhile
            return
        self._pump()

    def _fall_behind(self) -> None:
        self._behind = True
        self.log.warning(
            "gms: WebSocket client %s of project %s fell behind (%d bytes waiting): closed "
            "with %d so it reconnects and resyncs",
            self.client_id,
            self.project_id,
            self._waiting,
            FELL_BEHIND,
        )
        self._outbox.clear()
        self._waiting = 0
        self.close(FELL_BEHIND, "fell behind: reconnect and resync")
        self.on_close()

    async def on_message(self, message: str | bytes) -> None:
        try:
            data = read_json(message, self.server.core.limits, "The message")
            parsed = CLIENT_MESSAGES.validate_python(data)
        except StudioError as exc:
            code = exc.code if isinstance(exc, TooLarge) else "bad_message"
            self.send_event(ErrorEvent(code=code, message=exc.message, details=exc.details))
            return
        except ValidationError as exc:
            details = [
                {"loc": list(e["loc"]), "msg": e["msg"][:300], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)[:3]
            ]
            first = details[0]
            where = ".".join(str(p) for p in first["loc"]) or "message"
            self.send_event(
                ErrorEvent(
                    code="bad_message",
                    message=f"Message not understood: {where}: {first['msg']}"[:300],
                    details=details,
                )
            )
            return
        if isinstance(parsed, Ping):
            self.send_event(Pong(time=parsed.time))
        elif isinstance(parsed, StartGeneration):
            await self._start_generation(parsed)
        elif isinstance(parsed, SelectionChanged | PanelResized):
            parsed.client_id = self.client_id
            raw = encode(parsed)
            for other in list(self.sockets.get(self.project_id, ())):
                if other is not self:
                    other._relay(raw)

    async def _start_generation(self, message: StartGeneration) -> None:
        user = author_of(self.current_user, self.server.config)
        author = {"name": user.name, "email": user.email}
        # the message was checked as it came (an empty nodeId or nodeType is a bad_message)
        request = TaskSubmit(
            project_id=self.project_id,
            node_id=message.node_id,
            pipeline=message.node_type,
            parameters=message.parameters,
            count=message.count,
        )
        try:
            service = self.server.task_service()
            await self.server.on_broker(service.submit_all, request, author)
        except StudioError as exc:
            self.send_event(
                ErrorEvent(
                    code=exc.code,
                    message=exc.message,
                    details={"requestId": message.request_id, "nodeId": message.node_id},
                )
            )

    def on_close(self) -> None:
        for undo in getattr(self, "_cleanup", []):
            undo()
        self._cleanup = []
        self.sockets.get(self.project_id, set()).discard(self)
