"""A loopback ComfyUI made of recordings: it answers exactly what a real ComfyUI answered.

ComfyUI cannot be installed on our machines, so the tests talk to this server instead. It is
driven by the transcripts in `tests/fixtures/comfyui/recordings/` (recorded from ComfyUI 0.3.64,
see the README there), never by answers of its own:

- A **scenario** is one or more recordings played in order. The client's requests, WebSocket
  connects, messages and closes must come in the recorded order with the recorded bodies (client
  ids are the only thing translated: the live client's id replaces the recorded one everywhere).
  Each server entry is sent in the recorded order, WebSocket frames at their recorded distance
  from the client action before them (divided by `speed`), HTTP answers with the recorded status,
  headers and body.
- Requests a scenario does not hold are answered from the **catalogue** of idle-server
  recordings (`a*`: `/system_stats`, `/object_info/<node>`, `/features`, …) when one matches.
- Anything else is a **violation**: the client gets HTTP 501 with an explanation, the server
  notes it, and `Scenario.check()` fails the test. The server never makes an answer up.

Where a recording kept less than the bytes (binary preview frames keep only their length and
first bytes), the frame is rebuilt to the recorded length with the recorded header and a JPEG
whose first bytes are the recorded ones; its pixels are ours (a seeded noise picture, upscaled
like ComfyUI's 512-pixel previews) and say so in a JPEG comment. Recorded bodies had local paths
redacted (`<ComfyUI>`, `<output-directory>`), so a few recorded `Content-Length` headers are
longer than the bodies; the replay sends the recorded body with its own true length.

A client may leave out recorded GET requests (reads change nothing); it may not leave out a POST,
a connect, a message or a close. A recorded client-side close that the recording follows with a
reconnect (h3) is a dropped connection: if the client has not closed by then, the server drops it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import json
import random
import re
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tornado import httputil, web, websocket
from tornado.httpserver import HTTPServer

from gms_lab.embedded import free_port

RECORDINGS = Path(__file__).resolve().parent / "fixtures" / "comfyui" / "recordings"
#: Recordings of an idle server, answered whenever a scenario does not hold the request.
CATALOGUE = (
    "a1_get_system_stats",
    "a2_get_object_info_SaveImage",
    "a3_get_object_info_EmptyImage",
    "a4_get_object_info_GMSSlowNoise",
    "a7_get_features",
    "a8_get_object_info_unknown_node",
    "a9_get_history_unknown_id",
)
#: Idle answers that only hold while no recorded prompt is in flight.
IDLE_ONLY = ("a5_get_queue_idle", "a6_get_prompt_idle")
#: How long a burst (recorded seconds) of unsent frames before a read may be sent at once.
READ_AHEAD = 0.05
_CLIENT_ID = re.compile(r"clientId=([0-9a-f]+)")


def recording(name: str) -> dict[str, Any]:
    """One recording by its name or prefix (`"c1"` finds `c1_run_slownoise_progress`)."""
    matches = sorted(RECORDINGS.glob(f"{name}*.json"))
    if len(matches) != 1:
        raise KeyError(f"no single recording named {name!r}: {[m.name for m in matches]}")
    data: dict[str, Any] = json.loads(matches[0].read_text(encoding="utf-8"))
    return data


def is_client(entry: dict[str, Any]) -> bool:
    """Whether the client did this (a request, a connect, a message, a close)."""
    return bool(entry.get("direction") == "client->server")


def socket_tag(entry: dict[str, Any]) -> str:
    """Which WebSocket an entry belongs to (untagged entries are the main socket)."""
    return str(entry.get("socket", "main"))


def preview_jpeg(length: int, magic_hex: str, seed: int) -> bytes:
    """A valid JPEG of exactly `length` bytes starting with the recorded magic bytes.

    The recordings kept only the size and the first bytes of each preview; the picture is ours:
    seeded 64x64 noise upscaled to 512x512, as ComfyUI upscales its previews, padded with JPEG
    comment segments right after the JFIF header so the size is the recorded one.
    """
    from PIL import Image

    rng = random.Random(seed)
    small = Image.frombytes("RGB", (64, 64), bytes(rng.randrange(256) for _ in range(64 * 64 * 3)))
    picture = small.resize((512, 512), Image.Resampling.BILINEAR)
    for quality in (95, 90, 85, 80, 70, 60, 50, 40, 30):
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        data = buffer.getvalue()
        if len(data) <= length - 4 * 2 - 16:
            break
    else:  # pragma: no cover - a 512x512 JPEG always fits in the recorded ~100 KB
        raise AssertionError(f"cannot make a preview of {length} bytes")
    header_end = 2 + 2 + int.from_bytes(data[4:6], "big")  # SOI + APP0 (JFIF)
    note = b"gms replay: synthesized preview; the recording kept only its size and first bytes. "
    padding = b""
    missing = length - len(data)
    while missing > 0:
        size = min(missing, 65535 + 2)
        if size < 4:  # too small for a segment: grow the previous one instead
            padding = padding[:-4] if padding else padding
            size += 4
        body = (note * (size // len(note) + 1))[: size - 4]
        padding += b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body
        missing = length - len(data) - len(padding)
    jpeg = data[:header_end] + padding + data[header_end:]
    assert len(jpeg) == length, (len(jpeg), length)
    assert jpeg.hex().startswith(magic_hex), (jpeg[:8].hex(), magic_hex)
    return jpeg


def binary_frame(entry: dict[str, Any], index: int) -> bytes:
    """A recorded binary frame rebuilt: header as recorded, picture as `preview_jpeg` says."""
    kind = int(entry["event_type"])
    picture = preview_jpeg(int(entry["image_bytes_length"]), entry["image_magic_hex"], index)
    if kind == 1:
        frame = struct.pack(">II", 1, int(entry["image_format_code"])) + picture
    elif kind == 4:
        metadata = json.dumps(entry["metadata"]).encode()
        assert len(metadata) == entry["metadata_length"], "metadata differs from the recording"
        frame = struct.pack(">II", 4, len(metadata)) + metadata + picture
    else:  # pragma: no cover - the recordings hold types 1 and 4 only
        raise AssertionError(f"binary event type {kind} is not recorded")
    assert len(frame) == entry["length"], (len(frame), entry["length"])
    assert frame.hex().startswith(entry["first_bytes_hex"])
    return frame


@dataclass
class Action:
    """Something the live client did: a request, a connect, a WebSocket message or a close."""

    kind: str  # "http" | "connect" | "message" | "close"
    method: str = ""
    path: str = ""
    body: bytes = b""
    text: str = ""
    socket: SocketHandler | None = None
    answer: asyncio.Future[dict[str, Any]] | None = None

    def describe(self) -> str:
        if self.kind == "http":
            return f"{self.method} {self.path}"
        if self.kind == "message":
            return f"WebSocket message {self.text[:120]}"
        return f"WebSocket {self.kind} {self.path}"


@dataclass
class Scenario:
    """Recordings played in order against the live client; see the module's docstring."""

    names: list[str]
    speed: float
    loop: asyncio.AbstractEventLoop
    entries: list[dict[str, Any]] = field(default_factory=list)
    pos: int = 0
    ids: dict[str, str] = field(default_factory=dict)
    sockets: dict[str, SocketHandler] = field(default_factory=dict)
    pending: list[tuple[int, Action]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)
    fast_forward: int = -1
    started_prompt: bool = False

    def __post_init__(self) -> None:
        for name in self.names:
            data = recording(name)
            for client_id in filter(None, [data.get("client_id")]):
                self.ids.setdefault(client_id, "")
            self.entries.extend(data["entries"])
        self.wake = asyncio.Event()
        self.finished = asyncio.Event()
        self.anchor = (time.monotonic(), 0.0)
        self.task = self.loop.create_task(self._play())

    # -- the client's side ----------------------------------------------------------------------
    def arrive(self, action: Action) -> bool:
        """Take a client action; False when the scenario holds nothing that matches it."""
        self.log.append(action.describe())
        target = self._match(action)
        if target is None:
            return False
        if action.kind == "connect" and action.socket is not None:
            # tagged now: a message may follow before the player reaches the connect
            action.socket.tag = socket_tag(self.entries[target])
        self.pending.append((target, action))
        self.fast_forward = max(self.fast_forward, target - 1)
        self.wake.set()
        return True

    def _match(self, action: Action) -> int | None:
        """The index of the client entry `action` performs, or None.

        Recorded GETs the client does not make are skipped. A client that acts before the
        recorded frames that precede the action were sent makes the replay send them at once
        (its action ends the wait early); for a read this is allowed only across a burst of
        frames (the unsent frames span at most `READ_AHEAD` seconds of recorded time), since a
        read answered past frames the server sent over a longer while would show a state it was
        not in yet. The recorded client's own pace does not count: one that read later than the
        live one after the same last frame saw the same state.
        """
        claimed = {index for index, _ in self.pending}
        for index in range(self.pos, len(self.entries)):
            entry = self.entries[index]
            if not is_client(entry) or index in claimed:
                continue
            if self._matches(entry, action):
                if action.kind == "http" and action.method == "GET":
                    skipped = [
                        e
                        for e in self.entries[self.pos : index]
                        if not is_client(e) and e.get("frame") in ("text", "binary")
                    ]
                    if skipped and float(skipped[-1]["t"]) - float(skipped[0]["t"]) > READ_AHEAD:
                        return None
                return index
            if not (entry.get("kind") == "http" and entry.get("method") == "GET"):
                return None  # only reads may be left out
        return None

    def _matches(self, entry: dict[str, Any], action: Action) -> bool:
        kind = entry.get("kind")
        if action.kind == "http":
            if kind != "http" or entry["method"] != action.method:
                return False
            if self.live(entry["path"]) != action.path:
                return False
            if "raw_body" in entry:
                return action.body == entry["raw_body"].encode()
            if "body" in entry:
                try:
                    sent = json.loads(action.body or b"null")
                except ValueError:
                    return False
                return bool(sent == json.loads(self.live(json.dumps(entry["body"]))))
            return not action.body
        if kind != "ws" or action.socket is None:
            return False
        if action.kind == "connect":
            if entry.get("event") != "connect":
                return False
            return self._bind_client(entry["path"], action.path)
        if action.socket.tag != socket_tag(entry):
            return False
        if action.kind == "message":
            if entry.get("frame") != "text":
                return False
            return bool(json.loads(action.text) == json.loads(self.live(entry["raw"])))
        return action.kind == "close" and entry.get("event") == "close"

    def _bind_client(self, recorded_path: str, live_path: str) -> bool:
        recorded = _CLIENT_ID.search(recorded_path)
        live = _CLIENT_ID.search(live_path)
        if recorded is None or live is None:
            return recorded is None and live is None and recorded_path == live_path
        known = self.ids.get(recorded.group(1))
        if known:
            return known == live.group(1)
        self.ids[recorded.group(1)] = live.group(1)
        return True

    def live(self, text: str) -> str:
        """Recorded text with the recorded client ids replaced by the live ones."""
        for recorded, live in self.ids.items():
            if live:
                text = text.replace(recorded, live)
        return text

    def violation(self, message: str) -> None:
        """Note something the recordings do not hold."""
        self.violations.append(message)

    # -- the server's side ----------------------------------------------------------------------
    async def _play(self) -> None:
        try:
            while self.pos < len(self.entries):
                entry = self.entries[self.pos]
                if is_client(entry):
                    await self._client_step(entry)
                elif entry.get("kind") == "http":
                    self._answer(entry)
                    self.pos += 1
                elif entry.get("frame") in ("text", "binary"):
                    await self._due(entry)
                    self._send(entry)
                    self.pos += 1
                else:  # the server's side of open and close: done by the connection itself
                    self.pos += 1
        finally:
            self.finished.set()

    async def _client_step(self, entry: dict[str, Any]) -> None:
        index = self.pos
        if self._is_drop(index):
            await self._due(entry)
            if not any(i == index for i, _ in self.pending):
                handler = self.sockets.get(socket_tag(entry))
                if handler is not None:
                    handler.drop()
                self.pos += 1
                self.anchor = (time.monotonic(), float(entry["t"]))
                return
        while True:
            for item in self.pending:
                target, action = item
                if target == index:
                    self.pending.remove(item)
                    self._consume(entry, action)
                    self.pos += 1
                    self.anchor = (time.monotonic(), float(entry["t"]))
                    return
            if any(target > index for target, _ in self.pending):
                # the client went past a recorded read it did not need: skip the read
                self._skip_read(entry)
                return
            self.wake.clear()
            moment = self._read_passes(index)
            if moment is None:
                await self.wake.wait()
                continue
            try:
                await asyncio.wait_for(self.wake.wait(), max(0.0, moment - time.monotonic()))
            except TimeoutError:
                if any(target == index for target, _ in self.pending):
                    continue  # it came as the wait ran out (asyncio may say both)
                # a read the client did not make by the time the server spoke again
                self._skip_read(entry)
                return

    def _skip_read(self, entry: dict[str, Any]) -> None:
        self.pos += 1
        if self.pos < len(self.entries) and self._answers(self.entries[self.pos], entry):
            self.pos += 1

    def _read_passes(self, index: int) -> float | None:
        """For a recorded GET: when the server's next frame after it is due (else None)."""
        entry = self.entries[index]
        if not (entry.get("kind") == "http" and entry.get("method") == "GET"):
            return None
        for later in self.entries[index + 1 :]:
            if is_client(later):
                return None
            if later.get("frame") in ("text", "binary"):
                wall, recorded = self.anchor
                return wall + (float(later["t"]) - recorded) / self.speed
        return None

    def _consume(self, entry: dict[str, Any], action: Action) -> None:
        if action.kind == "connect" and action.socket is not None:
            action.socket.tag = socket_tag(entry)
            self.sockets[action.socket.tag] = action.socket
        elif action.kind == "http" and action.answer is not None:
            if entry.get("path") == "/prompt" and entry.get("method") == "POST":
                self.started_prompt = True
            self._awaiting = action

    @staticmethod
    def _answers(response: dict[str, Any], request: dict[str, Any]) -> bool:
        return bool(
            response.get("kind") == "http"
            and not is_client(response)
            and response.get("method") == request.get("method")
            and response.get("path") == request.get("path")
        )

    def _is_drop(self, index: int) -> bool:
        entry = self.entries[index]
        if entry.get("kind") != "ws" or entry.get("event") != "close":
            return False
        tag = socket_tag(entry)
        return any(
            is_client(later) and later.get("event") == "connect" and socket_tag(later) == tag
            for later in self.entries[index + 1 :]
        )

    async def _due(self, entry: dict[str, Any]) -> None:
        if self.pos <= self.fast_forward:
            return
        wall, recorded = self.anchor
        delay = wall + (float(entry["t"]) - recorded) / self.speed - time.monotonic()
        if delay > 0:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                # a client action that skips ahead sends the frames before it at once
                await asyncio.wait_for(self._until_fast_forward(), delay)

    async def _until_fast_forward(self) -> None:
        while self.pos > self.fast_forward:
            self.wake.clear()
            await self.wake.wait()

    def _answer(self, entry: dict[str, Any]) -> None:
        action = getattr(self, "_awaiting", None)
        self._awaiting = None
        if action is None or action.answer is None or action.answer.done():
            self.violation(f"recorded answer to {entry['path']} had no request to answer")
            return
        action.answer.set_result(self.response(entry))

    def response(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A recorded HTTP answer, with the live client ids."""
        answer = recorded_answer(entry, self.live)
        if answer["status"] == 501:
            self.violation(answer["body"].decode())
        return answer

    def _send(self, entry: dict[str, Any]) -> None:
        handler = self.sockets.get(socket_tag(entry))
        if handler is None or handler.closed:
            return  # sent while that client was not connected: lost, as recorded (h3)
        if entry["frame"] == "text":
            text = self.live(entry["raw"])
            self.sent.append((handler.tag, text))
            handler.send(text)
        else:
            frame = binary_frame(entry, self.pos)
            self.sent.append(
                (handler.tag, f"<binary {len(frame)} bytes type {entry['event_type']}>")
            )
            handler.send(frame)

    # -- for the tests --------------------------------------------------------------------------
    def expected_next(self) -> str:
        """The next client entry the scenario waits for (or that it has ended)."""
        for entry in self.entries[self.pos :]:
            if is_client(entry):
                return describe(entry)
        return "nothing (the scenario has ended)"


def describe(entry: dict[str, Any]) -> str:
    """A recorded client entry in words."""
    if entry.get("kind") == "http":
        return f"{entry['method']} {entry['path']}"
    if entry.get("frame") == "text":
        return f"WebSocket message {entry['raw'][:120]}"
    return f"WebSocket {entry.get('event')} {entry.get('path', '')}".rstrip()


def recorded_answer(entry: dict[str, Any], live: Any = str) -> dict[str, Any]:
    """A recorded HTTP answer as status, reason, headers and body bytes."""
    headers = {
        name: value
        for name, value in entry.get("headers", {}).items()
        if name in ("Content-Type", "Content-Disposition", "Cache-Control")
    }
    if "body" in entry:
        body = live(json.dumps(entry["body"])).encode()
    elif "body_base64" in entry:
        body = base64.b64decode(entry["body_base64"])
        assert hashlib.sha256(body).hexdigest() == entry["body_sha256"]
    elif "body_text" in entry:
        body = entry["body_text"].encode()
    else:
        return unrecorded(
            f"the recording kept only the size of the answer to {entry['path']} "
            f"({entry.get('body_bytes_length')} bytes), not its bytes"
        )
    return {"status": entry["status"], "reason": entry["reason"], "headers": headers, "body": body}


def unrecorded(message: str) -> dict[str, Any]:
    """The loud answer to a request no recording holds."""
    body = json.dumps({"replay": "not recorded", "message": message}).encode()
    return {
        "status": 501,
        "reason": "Not Recorded",
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": body,
    }


class HttpHandler(web.RequestHandler):
    """Every HTTP request: the scenario's next one, else the catalogue, else a violation."""

    replay: ComfyReplay

    def initialize(self, replay: ComfyReplay) -> None:
        self.replay = replay

    async def get(self) -> None:
        await self._handle()

    async def post(self) -> None:
        await self._handle()

    async def _handle(self) -> None:
        action = Action(
            "http", self.request.method or "GET", self.request.uri or "/", self.request.body
        )
        answer = await self.replay.handle(action)
        self.set_status(answer["status"], answer["reason"])
        self.clear_header("Content-Type")
        for name, value in answer["headers"].items():
            self.set_header(name, value)
        self.finish(answer["body"])


class SocketHandler(websocket.WebSocketHandler):
    """`/ws?clientId=…`: connects, messages and closes go to the scenario in order."""

    replay: ComfyReplay

    def initialize(self, replay: ComfyReplay) -> None:
        self.replay = replay
        self.tag = "?"
        self.closed = False

    def check_origin(self, origin: str) -> bool:
        return True

    async def open(self) -> None:  # type: ignore[override]
        self.replay.on_socket(Action("connect", path=self.request.uri or "/ws", socket=self))

    def on_message(self, message: str | bytes) -> None:
        text = message.decode() if isinstance(message, bytes) else message
        self.replay.on_socket(Action("message", text=text, socket=self))

    def on_close(self) -> None:
        if not self.closed:
            self.closed = True
            self.replay.on_socket(Action("close", path=self.request.uri or "/ws", socket=self))

    def send(self, data: str | bytes) -> None:
        with contextlib.suppress(websocket.WebSocketClosedError):
            self.write_message(data, binary=isinstance(data, bytes))

    def drop(self) -> None:
        """Cut the connection without a closing handshake, as a network failure would."""
        self.closed = True
        connection = self.ws_connection
        stream = getattr(connection, "stream", None)
        if stream is not None:
            stream.close()
        else:  # pragma: no cover
            self.close()


class ComfyReplay:
    """The replay server on a free loopback port, on its own thread and event loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.scenario: Scenario | None = None
        self.outside: list[str] = []  # violations with no scenario loaded
        self.catalogue = {
            entry["path"]: entry
            for name in CATALOGUE
            for entry in recording(name)["entries"]
            if not is_client(entry)
        }
        self.idle = {
            entry["path"]: entry
            for name in IDLE_ONLY
            for entry in recording(name)["entries"]
            if not is_client(entry)
        }
        self._thread = threading.Thread(target=self._serve, daemon=True, name="comfyui-replay")
        self._ready = threading.Event()

    def start(self) -> ComfyReplay:
        self._thread.start()
        self._ready.wait(10)
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application(
            [
                (r"/ws", SocketHandler, {"replay": self}),
                (r"/.*", HttpHandler, {"replay": self}),
            ],
            websocket_max_message_size=16 * 1024**2,
        )
        server = HTTPServer(app, max_body_size=256 * 1024**2)
        server.listen(self.port, "127.0.0.1")
        self._server = server
        self._ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        def halt() -> None:
            if self.scenario is not None:
                self.scenario.task.cancel()
            self._server.stop()
            self.loop.stop()

        self.loop.call_soon_threadsafe(halt)
        self._thread.join(10)

    @contextlib.contextmanager
    def offline(self) -> Iterator[None]:
        """Nothing listens on the replay's port meanwhile: connections are refused."""
        self._call(self._server.stop)
        try:
            yield
        finally:

            def listen() -> None:
                self._server.listen(self.port, "127.0.0.1")

            self._call(listen)

    def _call(self, fn: Any, *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def play(self, *names: str, speed: float = 1.0) -> Scenario:
        """Load a scenario (recordings by name or prefix); the previous one is dropped."""

        def load() -> Scenario:
            if self.scenario is not None:
                self.scenario.task.cancel()
                for handler in list(self.scenario.sockets.values()):
                    if not handler.closed:
                        handler.closed = True
                        handler.close()
            self.scenario = Scenario(list(names), speed, self.loop)
            return self.scenario

        scenario: Scenario = self._call(load)
        return scenario

    def idle_server(self) -> None:
        """No scenario: only the catalogue answers (for health checks and title look-ups)."""

        def clear() -> None:
            if self.scenario is not None:
                self.scenario.task.cancel()
            self.scenario = None

        self._call(clear)

    # -- requests -------------------------------------------------------------------------------
    async def handle(self, action: Action) -> dict[str, Any]:
        scenario = self.scenario
        if scenario is not None:
            action.answer = self.loop.create_future()
            if scenario.arrive(action):
                return await action.answer
        catalogued = self.catalogue.get(action.path)
        if catalogued is None and (scenario is None or not scenario.started_prompt):
            catalogued = self.idle.get(action.path)
        if catalogued is not None and action.method == catalogued["method"]:
            return recorded_answer(catalogued)
        waiting = scenario.expected_next() if scenario is not None else "no scenario"
        message = f"no recording answers {action.describe()} (the replay waits for {waiting})"
        fields = multipart_fields(action)
        if fields:
            message += f"; multipart fields {fields}"
        (scenario.violations if scenario is not None else self.outside).append(message)
        return unrecorded(message)

    def on_socket(self, action: Action) -> None:
        scenario = self.scenario
        if scenario is not None and scenario.arrive(action):
            return
        if action.kind == "close":
            if scenario is not None and action.socket is not None and action.socket.tag != "?":
                scenario.violation(f"the client closed its {action.socket.tag} socket early")
            return
        waiting = scenario.expected_next() if scenario is not None else "no scenario"
        message = f"no recording holds {action.describe()} (the replay waits for {waiting})"
        (scenario.violations if scenario is not None else self.outside).append(message)
        if action.socket is not None:
            action.socket.close(1011, "not recorded")


def multipart_fields(action: Action) -> list[str]:
    """The field names of a multipart body (to say what an unrecorded upload carried)."""
    if b"Content-Disposition" not in action.body[:4096]:
        return []
    return re.findall(r'; name="([^"]+)"', action.body[:65536].decode("latin-1"))


def check(scenario: Scenario, timeout: float = 10.0, allowed: tuple[str, ...] = ()) -> None:
    """Fail unless the scenario was played to its end without a violation.

    `allowed` lists violations the test expects (each a substring of one violation), such as a
    download the recording does not hold.
    """
    deadline = time.monotonic() + timeout
    while not scenario.finished.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    unexpected = [v for v in scenario.violations if not any(a in v for a in allowed)]
    missing = [a for a in allowed if not any(a in v for v in scenario.violations)]
    assert not unexpected, f"the client did what no recording holds: {unexpected}"
    assert not missing, f"expected the client to ask for {missing}; it did not"
    if not allowed:
        assert scenario.finished.is_set(), (
            f"the scenario {scenario.names} stopped at entry {scenario.pos}: "
            f"the client never did {scenario.expected_next()}"
        )


@contextlib.contextmanager
def replay_server() -> Iterator[ComfyReplay]:
    """A running replay server, stopped afterwards."""
    server = ComfyReplay().start()
    try:
        yield server
    finally:
        server.stop()


def query(path: str) -> dict[str, list[str]]:
    """The query of a recorded path, parsed (for assertions on /view requests)."""
    return parse_qs(urlsplit(path).query, keep_blank_values=True)


__all__ = [
    "ComfyReplay",
    "Scenario",
    "check",
    "httputil",
    "query",
    "recording",
    "replay_server",
]
