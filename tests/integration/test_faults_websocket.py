"""WebSocket clients that never read while events flood a real server process.

The server's memory stays bounded, a client that keeps reading gets every event and its pings
answered quickly, and a client that fell behind is closed with code 4008 and can come back.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from websockets.sync.client import ClientConnection, connect

from gms_lab.events import channel
from tests import figures
from tests.services import RedisProcess, ServerProcess, redis_process, studio_config

MiB = 1024 * 1024
#: the flood: events of 64 KiB, 250 a second, for 6 seconds (≈ 94 MiB to each client)
EVENT_BYTES = 64 * 1024
RATE = 250
SECONDS = 6.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    with redis_process(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def server(own_redis: RedisProcess, tmp_path: Path) -> Iterator[ServerProcess]:
    config = studio_config(tmp_path / "ws", broker_url=own_redis.url, ws_max_buffer=4 * MiB)
    running = ServerProcess(config, tmp_path / "server.log").start()
    yield running
    running.stop()


def stalled_client(server: ServerProcess, project_id: str) -> socket.socket:
    """A WebSocket client that completes the handshake and then reads nothing (tiny buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /gms/ws/{project_id}?token={server.token} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def close_code(stream: bytes) -> int | None:
    """The code of the close frame in a server → client frame stream (None if none arrived)."""
    at = 0
    while at + 2 <= len(stream):
        opcode, length = stream[at] & 0x0F, stream[at + 1] & 0x7F
        at += 2
        if length == 126:
            length, at = int.from_bytes(stream[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(stream[at : at + 8], "big"), at + 8
        payload = stream[at : at + length]
        at += length
        if opcode == 8 and len(payload) >= 2:
            return int.from_bytes(payload[:2], "big")
    return None


def drain(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server still sends, until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def flood(url: str, project_id: str, count: int) -> None:
    """Publish `count` project updates of about EVENT_BYTES each, at RATE a second."""
    client = redis.Redis.from_url(url)
    files = [f"02_Source_Creative/notes-{i:05d}.txt" for i in range(EVENT_BYTES // 36)]
    start = time.monotonic()
    for n in range(count):
        event = {"type": "project_update", "projectId": project_id, "changes": {"files": files}}
        event["changes"]["n"] = n
        client.publish(channel(project_id), json.dumps(event, separators=(",", ":")))
        pause = start + (n + 1) / RATE - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    client.close()


def time_pings(url: str, seconds: float, out: Any) -> None:
    """Ping every 20 ms for `seconds` and send back the round trips (in its own process)."""
    rtts = []
    with connect(url, max_size=None) as conn:
        hello(conn)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            sent = time.monotonic()
            conn.send(json.dumps({"type": "ping", "time": sent}))
            while '"pong"' not in str(conn.recv(timeout=30))[:40]:
                pass
            rtts.append(time.monotonic() - sent)
            time.sleep(0.02)
    out.send(rtts)


def hello(conn: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(conn.recv(timeout=10))
    assert event["type"] == "hello", event
    return event


def test_a_client_that_never_reads_cannot_exhaust_the_server(
    server: ServerProcess, own_redis: RedisProcess
) -> None:
    answer = requests.post(
        server.api("projects"), json={"name": "Flood"}, headers=server.headers, timeout=10
    )
    assert answer.status_code == 201, answer.text
    pid = answer.json()["id"]
    count = int(RATE * SECONDS)

    # a reader that keeps up, and two clients that stop reading at once
    reader = connect(server.ws_url(pid), max_size=None)
    hello(reader)
    comes_back = stalled_client(server, pid)
    never_reads = stalled_client(server, pid)
    figures.count("faults injected", 2)
    time.sleep(0.5)  # their hellos are sent; the hub listens to the project
    baseline = server.rss()

    received: list[int] = []

    def read_all() -> None:
        while len(received) < count:
            text = str(reader.recv(timeout=30))
            if text.startswith('{"type":"project_update"') and '"n":' in text:
                received.append(int(text[text.rindex('"n":') + 4 :].rstrip("}")))

    flooding = threading.Event()
    peak = [baseline]

    def watch_memory() -> None:
        while flooding.is_set():
            peak[0] = max(peak[0], server.rss())
            time.sleep(0.05)

    flooding.set()
    # pings are timed in a process of their own, so this process's threads cannot delay them
    pings = multiprocessing.get_context("fork")
    rtt_pipe, rtt_child = pings.Pipe(duplex=False)
    timer = pings.Process(target=time_pings, args=(server.ws_url(pid), SECONDS + 0.5, rtt_child))
    timer.start()
    threads = [threading.Thread(target=f) for f in (read_all, watch_memory)]
    for thread in threads:
        thread.start()
    publisher = threading.Thread(target=flood, args=(own_redis.url, pid, count))
    publisher.start()
    # the first stalled client looks again after a second: it was told it fell behind
    time.sleep(1.0)
    told = close_code(drain(comes_back, 5))
    publisher.join()
    rtts: list[float] = rtt_pipe.recv() if rtt_pipe.poll(30) else []
    timer.join(timeout=10)
    threads[0].join(timeout=60)
    flooding.clear()
    threads[1].join(timeout=30)

    growth = (peak[0] - baseline) / MiB
    p99 = statistics.quantiles(rtts, n=100)[98] * 1000 if len(rtts) >= 2 else float("inf")
    flooded = count * EVENT_BYTES / MiB
    figures.count("websocket events flooded", count)
    print(
        f"\nflood of {count} events ({flooded:.0f} MiB per client): server RSS grew "
        f"{growth:.1f} MiB; reader got {len(received)}; {len(rtts)} pings, p99 {p99:.1f} ms, "
        f"median {statistics.median(rtts) * 1000:.1f} ms; stalled client told {told}"
    )
    assert told == 4008
    assert sorted(received) == list(range(count))  # nothing lost for a client that keeps up
    assert growth < 40, f"server memory grew by {growth:.0f} MiB"
    assert p99 < 50, f"ping p99 {p99:.0f} ms"
    # the client that never read was dropped too: the server holds nothing for it
    assert drain(never_reads, 10) is not None
    comes_back.close(), never_reads.close()

    # coming back: a new connection says hello with the current version (the client resyncs)
    again = connect(server.ws_url(pid))
    assert hello(again)["projectId"] == pid
    again.close(), reader.close()
