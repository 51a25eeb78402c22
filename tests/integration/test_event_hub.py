"""The server's Redis subscriber: a listener hears every event published once it has joined,
whether it came before, while or after the hub connected."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable

import redis.asyncio as aioredis

from gms_lab.events import EventHub, channel


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
