"""The kernel's live event stream: one Redis subscription, read on the kernel's asyncio loop.

While a cell runs, the loop is busy with the cell; a blocking wait (`Task.result()`,
`Studio.wait()`) then reads the same subscription itself, on the kernel's main thread. Once the
cell returns, the loop wakes on the socket (`add_reader`), so widgets keep moving without a
polling thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis

from ..events import CHANNEL_PREFIX, channel

log = logging.getLogger(__name__)
Listener = Callable[[str, dict[str, Any]], None]


class LiveEvents:
    """Project channels → listeners, fed from the kernel's loop or from a blocking wait."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self.listeners: list[Listener] = []
        self.projects: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd: int | None = None

    def follow(self, project_id: str) -> None:
        """Receive the project's events from now on."""
        if project_id in self.projects:
            return
        self.pubsub.subscribe(channel(project_id))
        self.projects.add(project_id)
        self._attach()

    def listen(self, listener: Listener) -> None:
        """Call `listener(project_id, event)` for every event."""
        self.listeners.append(listener)

    def pump(self, timeout: float = 0.0) -> int:
        """Handle what has arrived (waiting up to `timeout` for the first); how many."""
        handled = 0
        wait = timeout
        while True:
            try:
                message = self.pubsub.get_message(timeout=wait)
            except (redis.RedisError, OSError) as exc:
                log.warning("live events interrupted: %s", exc)
                self._detach()
                return handled
            if message is None:
                return handled
            wait = 0.0
            if message.get("type") != "message":
                continue
            name = message["channel"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            try:
                event = json.loads(message["data"])
            except ValueError:
                continue
            handled += 1
            for listener in list(self.listeners):
                try:
                    listener(name.removeprefix(CHANNEL_PREFIX), event)
                except Exception as exc:
                    log.warning("notebook listener failed: %s", exc)

    def wait_until(self, done: Callable[[], bool], timeout: float | None) -> bool:
        """Pump events until `done()`; False if `timeout` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done():
            left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if left <= 0:
                return False
            self.pump(left)
        return True

    def _attach(self) -> None:
        """Wake on the subscription's socket in the kernel's running loop, if there is one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        connection = self.pubsub.connection
        sock = getattr(connection, "_sock", None)
        if sock is None:
            return
        fd = sock.fileno()
        if self._loop is loop and self._fd == fd:
            return
        self._detach()
        try:
            loop.add_reader(fd, self._readable)
        except (NotImplementedError, RuntimeError, ValueError):
            return
        self._loop, self._fd = loop, fd

    def _readable(self) -> None:
        self.pump(0.0)

    def _detach(self) -> None:
        if self._loop is not None and self._fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._fd)
        self._loop = self._fd = None

    def close(self) -> None:
        """Stop listening."""
        self._detach()
        with contextlib.suppress(Exception):
            self.pubsub.close()
