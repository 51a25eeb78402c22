"""A TCP relay between the browser and JupyterLab whose browser→server direction can be slowed.

Chromium's own network throttling delays an upload as a whole and reports no progress on the way,
and loopback is too fast for a progress bar to be seen: with this relay in between, the browser
feels a real slow uplink (TCP back-pressure), so an upload's progress events come as they would on
a home connection.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress

CHUNK = 16 * 1024


class SlowUplink:
    """Relays 127.0.0.1:<port> to `target`; `rate` (bytes/s, None = unlimited) limits uploads."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.rate: float | None = None
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A small receive window (set before listening, so that the handshake announces it):
        # the browser's socket fills up and its upload progress follows what really got through.
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        # An Ethernet-sized segment instead of loopback's 64 KB keeps the browser's send buffer,
        # which the kernel sizes by segments, small too.
        self._server.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1400)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen()
        self.port: int = self._server.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        """Stop accepting; open relays end with their sockets."""
        self._closed.set()
        self._server.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, uplink: bool) -> None:
        with suppress(OSError):
            while data := source.recv(CHUNK):
                rate = self.rate if uplink else None
                if rate:
                    time.sleep(len(data) / rate)
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
