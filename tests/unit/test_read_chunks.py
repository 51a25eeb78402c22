"""The Jupyter server reads connections, and hands streamed bodies in, `read_chunk_size` at a
time (`gms_lab.app.read_in_chunks_of`): checked on a real tornado HTTPServer over a socket."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tornado import httpserver, web

from gms_lab.app import read_in_chunks_of
from gms_lab.config import StudioConfig

MiB = 1024 * 1024


@web.stream_request_body
class Pieces(web.RequestHandler):
    """Counts the body's pieces as tornado hands them in."""

    sizes: list[int]

    def prepare(self) -> None:
        self.sizes = []

    def data_received(self, chunk: bytes) -> None:
        self.sizes.append(len(chunk))

    def post(self) -> None:
        self.finish(
            {"total": sum(self.sizes), "largest": max(self.sizes), "count": len(self.sizes)}
        )


@contextmanager
def serve(chunk_size: int) -> Iterator[int]:
    """A tornado HTTPServer (made as Jupyter makes its own), tuned as the studio tunes it, on a
    free port of a thread of its own."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            server = httpserver.HTTPServer(web.Application([(r"/", Pieces)]), max_body_size=1 << 30)
            read_in_chunks_of(server, StudioConfig(read_chunk_size=chunk_size))
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen()
            sock.setblocking(False)
            server.add_sockets([sock])
            state["port"] = sock.getsockname()[1]
            state["stop"] = stop = asyncio.Event()
            state["loop"] = asyncio.get_running_loop()
            ready.set()
            await stop.wait()
            server.stop()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield state["port"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(10)


def upload(port: int, size: int) -> dict[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60, blocksize=MiB)
    conn.request("POST", "/", body=b"x" * size, headers={"Content-Length": str(size)})
    answer = conn.getresponse()
    result: dict[str, int] = json.loads(answer.read())
    conn.close()
    return result


@pytest.mark.parametrize("chunk_size", [0, 256 * 1024, MiB])
def test_a_streamed_body_comes_in_pieces_of_the_read_chunk_size(chunk_size: int) -> None:
    size = 16 * MiB
    with serve(chunk_size) as port:
        result = upload(port, size)
    assert result["total"] == size
    most = chunk_size or 64 * 1024  # 0 leaves tornado's own
    assert result["largest"] <= most
    if chunk_size:  # larger pieces, and fewer than half as many as 64 KiB ones would be
        assert result["largest"] > 64 * 1024
        assert result["count"] < size / (64 * 1024) / 2
