"""The server's Redis subscriber: a listener hears every event published once it has joined,
whether it came before, while or after the hub connected."""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from gms_lab.events import EventHub, channel
from tests.conftest import Api
from tests.integration.test_generation import Socket
from tests.services import free_port, wait_until


async def test_a_listener_hears_every_event_published_once_it_has_joined(redis_url: str) -> None:
    hub = EventHub(redis_url, timeout=5.0)
    publisher = aioredis.Redis.from_url(redis_url)
    listeners: list[tuple[str, asyncio.Queue[str], Callable[[], None]]] = []

    def listen() -> None:
        project = f"hub-{secrets.token_hex(4)}"
        heard: asyncio.Queue[str] = asyncio.Queue()
        listeners.append((project, heard, hub.add(project, heard.put_nowait)))

    async def hears(i: int, project: str, heard: asyncio.Queue[str]) -> None:
        await hub.joined(project)
        event = json.dumps({"type": "task_progress", "taskId": "t", "seq": i})
        await publisher.publish(channel(project), event)
        assert await asyncio.wait_for(heard.get(), 5.0) == event, f"listener {i} heard nothing"

    hub.start()
    try:
        # listeners come before, while and after the hub connects and subscribes
        for _ in range(40):
            listen()
            await asyncio.sleep(0)
        for i, (project, heard, _) in enumerate(listeners):
            await hears(i, project, heard)
        # then each one brings a channel Redis has no subscriber for yet
        for i in range(40, 60):
            listen()
            project, heard, leave = listeners[-1]
            await hears(i, project, heard)
            leave()
    finally:
        await hub.stop()
        await publisher.aclose()


async def test_the_hub_reaches_a_redis_with_a_password_over_tcp_and_a_unix_socket(
    tmp_path: Path,
) -> None:
    port, sock = free_port(), tmp_path / "redis.sock"
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (make test installs it)"
    argv = [
        binary,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--dir",
        str(tmp_path),
    ]
    argv += ["--requirepass", "s3cret", "--unixsocket", str(sock), "--unixsocketperm", "700"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    publisher = aioredis.Redis.from_url(f"redis://:s3cret@127.0.0.1:{port}/0")
    try:
        wait_until(lambda: sock.exists(), 15)
        for url in (f"redis://:s3cret@127.0.0.1:{port}/0", f"unix://:s3cret@{sock}?db=0"):
            hub = EventHub(url, timeout=5.0)
            hub.start()
            heard: asyncio.Queue[str] = asyncio.Queue()
            hub.add("harbour", heard.put_nowait)
            await hub.joined("harbour")
            await publisher.publish(channel("harbour"), '{"type": "hello"}')
            assert await asyncio.wait_for(heard.get(), 5.0) == '{"type": "hello"}', url
            await hub.stop()
        # a wrong password: the hub says events are down, and keeps trying
        hub = EventHub(f"redis://:wrong@127.0.0.1:{port}/0", timeout=2.0)
        hub.start()
        hub.add("harbour", lambda raw: None)
        await hub.joined("harbour")
        deadline = time.monotonic() + 10
        while hub.down_since is None:
            assert time.monotonic() < deadline, "the hub did not notice it is refused"
            await asyncio.sleep(0.05)
        assert not hub.connected and hub.unavailable() is not None
        await hub.stop()
    finally:
        await publisher.aclose()
        proc.terminate()
        proc.wait(timeout=10)


async def test_hello_comes_first_and_the_events_heard_meanwhile_follow_it(
    api: Api, jp_ws_fetch: Any, redis_url: str
) -> None:
    """A client that connects while its project's events flow gets `hello` first, then every
    event published after it, in order: the ones heard while Redis confirmed the subscription
    wait for `hello`."""
    status, project = await api.call("POST", "projects", {"name": f"Flow {secrets.token_hex(3)}"})
    assert status == 201, project
    pid = project["id"]
    publisher = aioredis.Redis.from_url(redis_url)
    flowing = True

    async def flow() -> None:
        seq = 0
        while flowing:
            event = {"type": "task_progress", "taskId": "t", "nodeId": "n", "seq": seq}
            await publisher.publish(channel(pid), json.dumps(event))
            seq += 1

    task = asyncio.create_task(flow())
    try:
        for _ in range(10):
            socket = Socket(await jp_ws_fetch("gms", "ws", pid))
            assert (await socket.next())["type"] == "hello"
            seqs = [(await socket.until("task_progress"))["seq"] for _ in range(20)]
            assert seqs == list(range(seqs[0], seqs[0] + 20)), seqs
            socket.conn.close()
    finally:
        flowing = False
        await task
        await publisher.aclose()
