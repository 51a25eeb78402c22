"""A small WebSocket client (RFC 6455) for ComfyUI's `/ws`: standard library only.

Enough for one socket per prompt: the opening handshake, text and binary messages (fragmented
or not), ping answered with pong, the closing handshake. `receive` waits on the socket and, if
given, a wake-up file descriptor, so a caller blocks without polling and still hears a cancel.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import select
import socket
import ssl
import struct
from dataclasses import dataclass
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _BINARY, _CLOSE, _PING, _PONG, _CONTINUATION = 1, 2, 8, 9, 10, 0


class SocketClosed(Exception):
    """The connection ended (closed by the server, or cut)."""


class HandshakeRefused(Exception):
    """The server answered the upgrade with something other than 101."""


@dataclass(frozen=True)
class Message:
    """One whole message: `text` for text messages, `data` for binary ones."""

    text: str | None = None
    data: bytes | None = None


#: What `receive` answers when the wake-up descriptor became readable.
WOKEN = Message()


class WebSocketLink:
    """One client connection; not thread-safe (one reader, the same thread sends)."""

    def __init__(self, sock: socket.socket, leftover: bytes = b"") -> None:
        self.sock = sock
        self._buffer = bytearray(leftover)
        self._fragments: list[bytes] = []
        self._fragment_kind = 0
        self.closed = False

    @classmethod
    def connect(cls, url: str, timeout: float = 10.0) -> WebSocketLink:
        """Open `url` (ws:// or wss://, or http(s):// meaning the same host)."""
        parts = urlsplit(url)
        secure = parts.scheme in ("wss", "https")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if secure else 80)
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        raw = socket.create_connection((host, port), timeout=timeout)
        sock: socket.socket = raw
        try:
            if secure:
                sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
            key = base64.b64encode(os.urandom(16)).decode()
            netloc = host if parts.port is None else f"{host}:{port}"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            )
            sock.sendall(request.encode("ascii"))
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    raise HandshakeRefused("the server closed the connection during the handshake")
                head += chunk
                if len(head) > 65536:
                    raise HandshakeRefused("the handshake answer is too long")
            header, _, leftover = head.partition(b"\r\n\r\n")
            lines = header.decode("latin-1").split("\r\n")
            status = lines[0].split(" ", 2)
            if len(status) < 2 or status[1] != "101":
                raise HandshakeRefused(f"the server answered {lines[0]!r} instead of 101")
            fields = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
            }
            expected = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
            if fields.get("sec-websocket-accept") != expected:
                raise HandshakeRefused("the server's Sec-WebSocket-Accept does not match")
        except BaseException:
            sock.close()
            raise
        sock.settimeout(None)
        return cls(sock, leftover)

    def fileno(self) -> int:
        """The socket's descriptor."""
        return self.sock.fileno()

    # -- sending --------------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        """Send one text message."""
        self._send_frame(_TEXT, text.encode("utf-8"))

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        if self.closed:
            raise SocketClosed("the socket is closed")
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack(">BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack(">BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack(">BBQ", 0x80 | opcode, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(header + mask + masked)
        except OSError as exc:
            self.closed = True
            raise SocketClosed(str(exc)) from exc

    # -- receiving ------------------------------------------------------------------------------
    def receive(self, timeout: float | None, wake: int | None = None) -> Message | None:
        """The next message; None after `timeout` seconds; `WOKEN` if `wake` became readable.

        Raises `SocketClosed` when the connection ends.
        """
        while True:
            message = self._parse()
            if message is not None:
                return message
            if self.closed:
                raise SocketClosed("the server closed the socket")
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0
            if not pending:
                watched = [self.sock] if wake is None else [self.sock, wake]
                readable, _, _ = select.select(watched, [], [], timeout)
                if not readable:
                    return None
                if wake is not None and wake in readable:
                    return WOKEN
            try:
                chunk = self.sock.recv(1 << 16)
            except (ConnectionError, OSError) as exc:
                self.closed = True
                raise SocketClosed(str(exc)) from exc
            if not chunk:
                self.closed = True
                raise SocketClosed("the connection was cut")
            self._buffer += chunk

    def _parse(self) -> Message | None:
        """A whole message from the buffer, answering pings and closes on the way."""
        while True:
            frame = self._frame()
            if frame is None:
                return None
            fin, opcode, payload = frame
            if opcode == _PING:
                with contextlib.suppress(SocketClosed):
                    self._send_frame(_PONG, payload)
                continue
            if opcode == _PONG:
                continue
            if opcode == _CLOSE:
                with contextlib.suppress(SocketClosed):
                    self._send_frame(_CLOSE, payload[:2])
                self.closed = True
                raise SocketClosed("the server closed the socket")
            if opcode != _CONTINUATION:
                self._fragment_kind = opcode
                self._fragments = []
            self._fragments.append(payload)
            if not fin:
                continue
            whole = b"".join(self._fragments)
            self._fragments = []
            if self._fragment_kind == _TEXT:
                return Message(text=whole.decode("utf-8", "replace"))
            return Message(data=whole)

    def _frame(self) -> tuple[bool, int, bytes] | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        size = second & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                return None
            size = struct.unpack(">H", buffer[2:4])[0]
            offset = 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            size = struct.unpack(">Q", buffer[2:10])[0]
            offset = 10
        masked = bool(second & 0x80)
        mask = b""
        if masked:  # servers do not mask, but a frame that is masked is still readable
            if len(buffer) < offset + 4:
                return None
            mask = bytes(buffer[offset : offset + 4])
            offset += 4
        if len(buffer) < offset + size:
            return None
        payload = bytes(buffer[offset : offset + size])
        del buffer[: offset + size]
        if masked:
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        return bool(first & 0x80), first & 0x0F, payload

    def close(self) -> None:
        """Send a close frame (best effort) and release the socket."""
        if not self.closed:
            with contextlib.suppress(SocketClosed):
                self._send_frame(_CLOSE, struct.pack(">H", 1000))
            self.closed = True
            # wait briefly for the server's close frame, so the server sees an orderly close
            with contextlib.suppress(OSError, ValueError):
                self.sock.settimeout(1.0)
                while self.sock.recv(4096):
                    pass
        with contextlib.suppress(OSError):
            self.sock.close()
