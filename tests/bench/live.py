"""Live events: publish → WebSocket latency, 50 clients under load, the file watcher."""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import re
import select
import socket
import threading
import time
from array import array
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import websockets
from watchfiles import watch

from . import cpu
from .server import TOKEN, Server
from .table import Row, Table, ms, percentile


def _event(seq: int, n: int) -> str:
    return json.dumps(
        {
            "type": "task_progress",
            "taskId": "bench",
            "nodeId": "x",
            "progress": seq / n,
            "step": "bench",
            "status": "running",
            "seq": seq,
        }
    )


def _ws_latency(
    ws_base: str, url: str, project: str, n: int, raw: list[float] | None = None
) -> list[float]:
    """Publish → a blocking WebSocket client of the studio, `n` times. With `raw`, each event
    is also sent through a bare Redis subscription right after it, with the same text and a
    blocking client too, and that round trip goes in `raw`: both are measured side by side,
    under the same load."""
    conn = _BlockingSocket.connect(f"{ws_base}/gms/ws/{project}?token={TOKEN}")
    client = redis.Redis.from_url(url)
    sub = _BareSubscriber.connect(url, "bench-raw") if raw is not None else None
    try:
        conn.recv()  # hello
        samples = []
        for i in range(n):
            event = _event(i, n)
            sent = time.perf_counter()
            client.publish(f"gms:events:{project}", event)
            while True:  # an event lost is an error, never a bench that waits for good
                got = json.loads(conn.recv())
                if got.get("taskId") == "bench" and got["seq"] == i:
                    break
            samples.append(time.perf_counter() - sent)
            if raw is not None and sub is not None:
                sent = time.perf_counter()
                client.publish("bench-raw", event)
                json.loads(sub.recv())
                raw.append(time.perf_counter() - sent)
        return samples
    finally:
        if sub is not None:
            sub.close()
        conn.close()


async def _ws_latency_asyncio(ws_base: str, url: str, project: str, n: int) -> list[float]:
    """The same through the `websockets` library on an asyncio loop, as a browser-like client
    with an event loop of its own: what such a client's wake-ups add."""
    async with websockets.connect(f"{ws_base}/gms/ws/{project}?token={TOKEN}") as conn:
        await conn.recv()  # hello
        client = redis.Redis.from_url(url)
        samples = []
        for i in range(n):
            event = _event(i, n)
            sent = time.perf_counter()
            client.publish(f"gms:events:{project}", event)
            while True:
                got = json.loads(await asyncio.wait_for(conn.recv(), 10))
                if got.get("taskId") == "bench" and got["seq"] == i:
                    break
            samples.append(time.perf_counter() - sent)
        return samples


def bench_events(server: Server, url: str, table: Table, project: str) -> None:
    """One event from Redis to a WebSocket client vs a raw Redis pub/sub round trip."""
    n = 2000
    print(f"event latency, {n} events")
    raw: list[float] = []
    samples = _ws_latency(server.ws, url, project, n, raw)
    library = ms(asyncio.run(_ws_latency_asyncio(server.ws, url, project, n)))
    ours, base = ms(samples), ms(raw)
    table.add(
        Row(
            "publish → WebSocket, p50",
            ours["p50"],
            "ms",
            "raw Redis pub/sub round trip",
            base["p50"],
            "≤ 2x raw pub/sub",
            ratio=ours["p50"] / base["p50"],
            meets=ours["p50"] / base["p50"] <= 2,
            notes=f"p99 {ours['p99']:.2f} ms; blocking clients, one event of each in turn; "
            f"through the asyncio `websockets` library: p50 {library['p50']:.2f} ms",
            extra={"studio": ours, "baseline": base, "asyncioClient": library},
        )
    )


# -- 50 clients at 1,000 events/s ----------------------------------------------------------------
TASKS = 20


def _upgrade(url: str) -> tuple[str, int, bytes]:
    """Host, port and the HTTP request that opens a WebSocket at `url`."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None, url
    key = base64.b64encode(os.urandom(16)).decode()
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return parts.hostname, parts.port, request.encode()


def _dial(host: str, port: int) -> socket.socket:
    """A blocking loopback connection that sends each small write at once."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _upgraded(head: bytes) -> None:
    assert b" 101 " in head.split(b"\r\n")[0], head


def _payloads(data: bytes) -> tuple[list[bytes], bytes]:
    """The payloads of the whole data frames at the start of `data` (text, binary and
    continuation; control frames skipped), and what is left of a frame still arriving."""
    payloads = []
    at, end = 0, len(data)
    while at + 2 <= end:
        first, size = data[at], data[at + 1] & 0x7F
        start = at + 2
        if size == 126:
            size, start = int.from_bytes(data[start : start + 2], "big"), start + 2
        elif size == 127:
            size, start = int.from_bytes(data[start : start + 8], "big"), start + 8
        if start + size > end:
            break
        if first & 0x0F in (0x1, 0x2, 0x0):
            payloads.append(data[start : start + size])
        at = start + size
    return payloads, data[at:]


class _BareSubscriber:
    """A Redis subscriber on a blocking socket, as lean as `_BlockingSocket`: the raw pub/sub
    round trip measures Redis, not a client library's parsing."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    @classmethod
    def connect(cls, url: str, channel: str) -> _BareSubscriber:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None, url
        sock = _dial(parts.hostname, parts.port)
        subscriber = cls(sock)
        name = channel.encode()
        sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(name), name))
        subscriber.recv()  # the subscription's confirmation
        return subscriber

    def recv(self) -> bytes:
        """The last element of the next push (a message's payload)."""
        while (push := self._push()) is None:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("Redis closed the connection")
            self.buffer += chunk
        return push[-1]

    def _push(self) -> list[bytes] | None:
        """The first whole push in the buffer (an array of bulk strings and integers), taken
        out of it; None while it is still arriving."""
        data = self.buffer
        line = data.find(b"\r\n")
        if line < 0:
            return None
        at, items = line + 2, []
        for _ in range(int(data[1:line])):
            line = data.find(b"\r\n", at)
            if line < 0:
                return None
            if data[at : at + 1] == b"$":  # a bulk string: its length, then its bytes
                start = line + 2
                end = start + int(data[at + 1 : line])
                if end + 2 > len(data):
                    return None
                items.append(data[start:end])
                at = end + 2
            else:  # an integer (the count of subscriptions)
                items.append(data[at + 1 : line])
                at = line + 2
        self.buffer = data[at:]
        return items

    def close(self) -> None:
        self.sock.close()


class _BlockingSocket:
    """A minimal WebSocket client on a blocking socket (text frames from the server, no
    extensions), the counterpart of `_BareSubscriber` in the latency row."""

    def __init__(self, sock: socket.socket, buffer: bytes) -> None:
        self.sock = sock
        payloads, self.buffer = _payloads(buffer)  # the upgrade's read may hold frames
        self.pending: deque[bytes] = deque(payloads)

    @classmethod
    def connect(cls, url: str) -> _BlockingSocket:
        host, port, request = _upgrade(url)
        sock = _dial(host, port)
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection during the upgrade")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        _upgraded(head)
        return cls(sock, rest)

    def recv(self) -> bytes:
        """The next message's payload; waits at most the socket's timeout for it."""
        while not self.pending:
            chunk = self.sock.recv(1 << 18)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            payloads, self.buffer = _payloads(self.buffer + chunk)
            self.pending.extend(payloads)
        return self.pending.popleft()

    def close(self) -> None:
        self.sock.close()


#: A load event, whole: `seq` is its last field, so the closing brace after it is there only
#: once its frame has arrived (what follows stays for the next read).
_EVENT = re.compile(rb'"taskId": ?"(load-[^"]+)".*?"step": ?"([^"]*)".*?"seq": ?(\d+)\}')


def _clients(ws_url: str, count: int, seconds: float, ready: Any, out: Any) -> None:
    """A process holding `count` WebSocket clients; reports latencies, losses, reorderings.

    They share the host's cores with the server they measure, so they cost as little as they
    can: one `epoll` loop reads every socket as its bytes come, and each read's bytes are
    searched for whole events in one pass, not split into frames first (the frames are the
    server's small text frames; control frames and other events do not match and are skipped).
    """
    conns = [_BlockingSocket.connect(ws_url) for _ in range(count)]
    for conn in conns:
        conn.recv()  # hello
        conn.sock.setblocking(False)
    index = {conn.sock.fileno(): i for i, conn in enumerate(conns)}
    poll = select.epoll()
    for fd in index:
        poll.register(fd, select.EPOLLIN)
    ready.set()
    latencies = array("d")
    received = [0] * count
    reordered = [0] * count
    last: list[dict[bytes, int]] = [{} for _ in conns]
    data = [conn.buffer for conn in conns]  # what came after the hello, if anything
    listening = count
    deadline = time.monotonic() + seconds + 30
    while listening and time.monotonic() < deadline:
        for fd, _ in poll.poll(1.0):
            i = index[fd]
            try:
                chunk = conns[i].sock.recv(1 << 18)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            now = time.time()
            seen = data[i] + chunk if data[i] else chunk
            end, done = 0, not chunk
            for found in _EVENT.finditer(seen):
                task, step, seq_text = found.groups()
                end = found.end()
                if task == b"load-end":
                    done = True
                    break
                latencies.append(now - float(step))
                received[i] += 1
                seq = int(seq_text)
                if seq <= last[i].get(task, -1):
                    reordered[i] += 1
                last[i][task] = seq
            data[i] = seen[end:]
            if done:
                poll.unregister(fd)
                listening -= 1
    poll.close()
    for conn in conns:
        conn.close()
    out.put((latencies.tobytes(), received, reordered))


def bench_many_clients(
    server: Server,
    url: str,
    table: Table,
    project: str,
    clients: int = 50,
    rate: int = 1000,
    seconds: float = 20.0,
) -> None:
    """50 clients of one project while events come at 1,000/s for 20 s: latency, loss, order."""
    print(f"{clients} WebSocket clients, {rate} events/s for {seconds:.0f} s")
    ctx = multiprocessing.get_context("spawn")
    ws_url = f"{server.ws}/gms/ws/{project}?token={TOKEN}"
    procs, readies, out = [], [], ctx.Queue()
    per = [clients // 2, clients - clients // 2]
    for count in per:
        ready = ctx.Event()
        proc = ctx.Process(target=_clients, args=(ws_url, count, seconds, ready, out))
        proc.start()
        procs.append(proc)
        readies.append(ready)
    for ready in readies:
        assert ready.wait(60), "clients did not connect"
    client = redis.Redis.from_url(url)
    channel = f"gms:events:{project}"
    total = int(rate * seconds)
    processes = {"server": [server.proc.pid], "clients": [p.pid for p in procs if p.pid]}
    before = cpu.spent(processes, client)
    seqs = [0] * TASKS
    start = time.perf_counter()
    lag = 0.0
    for i in range(total):
        due = start + i / rate
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        else:
            lag = max(lag, now - due)
        task = i % TASKS
        event = {
            "type": "task_progress",
            "taskId": f"load-{task}",
            "nodeId": "x",
            "progress": 0.5,
            "step": f"{time.time():.6f}",
            "status": "running",
            "seq": seqs[task],
        }
        seqs[task] += 1
        client.publish(channel, json.dumps(event))
    sent_rate = total / (time.perf_counter() - start)
    load = cpu.shares(before, cpu.spent(processes, client))
    client.publish(
        channel,
        json.dumps(
            {
                "type": "task_progress",
                "taskId": "load-end",
                "nodeId": "x",
                "progress": 1,
                "step": "0",
                "status": "running",
                "seq": 0,
            }
        ),
    )
    latencies: list[float] = []
    received: list[int] = []
    reordered: list[int] = []
    for _ in procs:
        raw, got, order = out.get(timeout=120)
        values = array("d")
        values.frombytes(raw)
        latencies.extend(values)
        received += got
        reordered += order
    for proc in procs:
        proc.join(timeout=30)
    lost = sum(total - r for r in received)
    out_of_order = sum(reordered)
    p50, p99 = percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3
    # the baseline: one client of the same hub, nothing else going on, measured just before
    base = ms(_ws_latency(server.ws, url, project, 500))
    table.add(
        Row(
            f"{clients} clients at {rate:,} events/s for {seconds:.0f} s, p99",
            p99,
            "ms",
            "one idle client, p99",
            base["p99"],
            "p99 ≤ 25 ms, nothing lost or reordered per task",
            ratio=p99 / base["p99"],
            meets=p99 <= 25 and lost == 0 and out_of_order == 0,
            notes=f"p50 {p50:.1f} ms, lost {lost}, reordered {out_of_order}, "
            f"sent {sent_rate:.0f}/s; " + cpu.describe_load(load),
            extra={
                "p50": p50,
                "p99": p99,
                "lost": lost,
                "reordered": out_of_order,
                "delivered": sum(received),
                "publisherMaxLagS": lag,
                "cpuCores": load,
                "baseline": base,
            },
        )
    )


# -- the file watcher ----------------------------------------------------------------------------
_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


async def _watched(server: Server, project: str, folder: Path, n: int) -> list[float]:
    async with websockets.connect(f"{server.ws}/gms/ws/{project}?token={TOKEN}") as conn:
        await conn.recv()  # hello
        await asyncio.sleep(1.0)  # the watch is on
        samples = []
        for i in range(n):
            name = f"probe-{i}.png"
            start = time.perf_counter()
            (folder / name).write_bytes(_PNG)
            while True:
                event = json.loads(await asyncio.wait_for(conn.recv(), 10))
                if event.get("type") == "asset_added" and event["asset"]["name"] == name:
                    break
            samples.append(time.perf_counter() - start)
            await asyncio.sleep(0.3)
        return samples


def _raw_watch(folder: Path, n: int) -> list[float]:
    stop = threading.Event()
    seen: dict[str, float] = {}

    def loop() -> None:
        for changes in watch(
            folder, step=1, debounce=50, stop_event=stop, rust_timeout=200, yield_on_timeout=True
        ):
            for _, path in changes:
                seen.setdefault(Path(path).name, time.perf_counter())

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(0.5)
    samples = []
    for i in range(n):
        name = f"raw-{i}.png"
        start = time.perf_counter()
        (folder / name).write_bytes(_PNG)
        deadline = time.monotonic() + 5
        while name not in seen and time.monotonic() < deadline:
            time.sleep(0.0005)
        samples.append(seen.get(name, time.perf_counter()) - start)
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=5)
    return samples


def bench_watcher(server: Server, table: Table, project: str, root: Path, tmp: Path) -> None:
    """A file written into `01_Assets` → `asset_added` at a client, vs inotify itself."""
    n = 20
    print(f"file watcher, {n} files")
    folder = root / "01_Assets" / "Characters"
    ours = ms(asyncio.run(_watched(server, project, folder, n)))
    raw_folder = tmp / "raw-watch"
    raw_folder.mkdir(exist_ok=True)
    base = ms(_raw_watch(raw_folder, n))
    table.add(
        Row(
            "file written in 01_Assets → asset_added at a client, p50",
            ours["p50"],
            "ms",
            "inotify via watchfiles, no debounce",
            base["p50"],
            "p50 < 300 ms (JupyterLab's file browser polls every 10 s)",
            ratio=ours["p50"] / base["p50"],
            meets=ours["p50"] < 300,
            notes=f"p99 {ours['p99']:.0f} ms",
            extra={"studio": ours, "baseline": base},
        )
    )
