"""Following one prompt on ComfyUI: what its messages say, and the loop that waits for them.

`PromptRun` reads ComfyUI's WebSocket messages about one prompt: progress over the whole graph
("KSampler 12/20"), preview pictures, outputs, and how it ended. `PromptWatch` waits on the
socket (and on a wake-up descriptor for the studio's cancel), never polling; when the socket
drops it reconnects with the same client id, and while it cannot, it asks `/history` whether
the prompt ended meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from comfy_api import ComfyAnswer, ComfyServer, ComfyUnreachable
from websocket_link import WOKEN, Message, SocketClosed, WebSocketLink

PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4
#: A silent socket for this long makes the watch ask /history whether the prompt ended.
SILENCE = 30.0
#: After the outcome, how long to wait for ComfyUI's last message (`executing` of no node).
LAST_WORD = 2.0
#: How long to keep trying to reconnect a dropped socket before giving up.
RECONNECT_FOR = 120.0


@dataclass(frozen=True)
class Preview:
    """A preview picture ComfyUI sent while it worked."""

    data: bytes
    suffix: str
    node: str | None


@dataclass
class PromptRun:
    """One prompt as ComfyUI's messages describe it."""

    workflow: dict[str, Any]
    title: Callable[[str], str]
    prompt_id: str | None = None
    started: bool = False
    cached: set[str] = field(default_factory=set)
    done: set[str] = field(default_factory=set)
    current: str | None = None
    value: float = 0
    maximum: float = 0
    queue_remaining: int | None = None
    #: "success", "error", "interrupted" (by ComfyUI), or "deleted" (taken out of the queue)
    outcome: str | None = None
    #: ComfyUI's last word (`executing` of no node) came; nothing more will.
    ended: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    server_flags: dict[str, Any] = field(default_factory=dict)
    _fraction: float = 0.0

    # -- reading messages -----------------------------------------------------------------------
    def read(self, message: Message) -> Preview | None:
        """Take one message in; a preview picture if it was one for this prompt."""
        if message.data is not None:
            return self._binary(message.data)
        try:
            body = json.loads(message.text or "")
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            return None
        kind, data = str(body.get("type")), body["data"]
        if kind == "status":
            info = (data.get("status") or {}).get("exec_info") or {}
            if isinstance(info.get("queue_remaining"), int):
                self.queue_remaining = info["queue_remaining"]
            return None
        if kind == "feature_flags":
            self.server_flags = dict(data)
            return None
        prompt_id = data.get("prompt_id")
        if prompt_id is not None and prompt_id != self.prompt_id:
            return None  # another prompt of this client
        if prompt_id is None and kind != "executing":
            return None
        if kind == "execution_start":
            self.started = True
        elif kind == "execution_cached":
            self.started = True
            self.cached.update(str(n) for n in data.get("nodes") or [])
        elif kind == "executing":
            self._executing(data, prompt_id)
        elif kind == "progress":
            node = str(data.get("node") or self.current or "")
            if node and node != self.current:
                self._enter(node)
            self.value = _number(data.get("value"))
            self.maximum = _number(data.get("max"))
        elif kind == "progress_state":
            for node, state in (data.get("nodes") or {}).items():
                if isinstance(state, dict) and state.get("state") == "finished":
                    self.done.add(str(node))
        elif kind == "executed":
            node = str(data.get("node"))
            if isinstance(data.get("output"), dict):
                self.outputs[node] = data["output"]
            self.done.add(node)
        elif kind == "execution_success":
            self.outcome = "success"
        elif kind in ("execution_error", "execution_interrupted"):
            self.outcome = "error" if kind == "execution_error" else "interrupted"
            self.details = dict(data)
        return None

    def _executing(self, data: dict[str, Any], prompt_id: str | None) -> None:
        node = data.get("node")
        if node is None:
            if prompt_id is not None:  # the last word about this prompt
                self.ended = True
                if self.outcome is None:
                    self.outcome = "success"  # servers older than execution_success
            return
        # After a reconnect ComfyUI names the running node without a prompt id: with one socket
        # per prompt, that node is ours.
        self.started = True
        self._enter(str(data.get("display_node") or node))

    def _enter(self, node: str) -> None:
        if self.current is not None and self.current != node:
            self.done.add(self.current)
        self.current = node
        self.value = self.maximum = 0

    def _binary(self, data: bytes) -> Preview | None:
        if len(data) < 8:
            return None
        kind, second = struct.unpack(">II", data[:8])
        if kind == PREVIEW_IMAGE:
            suffix = ".png" if second == 2 else ".jpg"
            return Preview(data[8:], suffix, self.current)
        if kind == PREVIEW_IMAGE_WITH_METADATA:
            try:
                meta = json.loads(data[8 : 8 + second])
            except ValueError:
                return None
            if meta.get("prompt_id") not in (None, self.prompt_id):
                return None
            suffix = ".png" if "png" in str(meta.get("image_type")) else ".jpg"
            node = meta.get("display_node_id") or meta.get("node_id")
            return Preview(data[8 + second :], suffix, str(node) if node else self.current)
        return None  # other binary events (text updates) carry no picture

    def read_history(self, entry: dict[str, Any]) -> None:
        """Take the outcome from a `/history` entry (after a socket drop, or to confirm)."""
        status = entry.get("status") or {}
        messages = status.get("messages") or []
        for name, data in messages:
            if name in ("execution_error", "execution_interrupted") and isinstance(data, dict):
                self.outcome = "error" if name == "execution_error" else "interrupted"
                self.details = dict(data)
        if status.get("status_str") == "success":
            self.outcome = "success"
        elif self.outcome is None and status.get("completed") is False:
            self.outcome = "error"
        for node, output in (entry.get("outputs") or {}).items():
            if isinstance(output, dict):
                self.outputs[str(node)] = output
        self.started = True
        self.ended = True

    # -- what the user sees ---------------------------------------------------------------------
    @property
    def fraction(self) -> float:
        """How far the whole graph is, 0 to 1, never going back."""
        total = max(1, len(self.workflow) - len(self.cached))
        finished = len((self.done - self.cached) - {self.current})
        step = self.value / self.maximum if self.maximum else 0.0
        now = 1.0 if self.outcome == "success" else min(1.0, (finished + min(1.0, step)) / total)
        self._fraction = max(self._fraction, now)
        return self._fraction

    @property
    def step(self) -> str:
        """What ComfyUI is doing, in words: "KSampler 12/20"."""
        if self.outcome == "success":
            return "ComfyUI finished"
        if self.current is not None:
            words = self.title(self.current)
            if self.maximum:
                words += f" {_count(self.value)}/{_count(self.maximum)}"
            return words
        if self.started:
            return "ComfyUI started the workflow"
        if self.queue_remaining:
            return f"Waiting in ComfyUI's queue ({self.queue_remaining} in the queue)"
        return "Waiting in ComfyUI's queue"


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


class PromptWatch:
    """Waits for one prompt's messages until ComfyUI has said its last word about it."""

    def __init__(
        self,
        server: ComfyServer,
        client_id: str,
        link: WebSocketLink,
        run: PromptRun,
        *,
        wake: int | None,
        cancel_requested: Callable[[], bool],
        on_update: Callable[[Preview | None], None],
        hello: str | None = None,
    ) -> None:
        self.server = server
        self.client_id = client_id
        self.link = link
        self.run = run
        self.wake = wake
        self.cancel_requested = cancel_requested
        self.on_update = on_update
        self.hello = hello
        self.cancel_sent = False
        self.reconnects = 0
        #: When the socket was lost and no message came since (a reconnect that is cut at once
        #: again does not restart the clock).
        self.lost_since: float | None = None

    def follow(self) -> None:
        """Return once the prompt ended (or was taken out of the queue)."""
        run = self.run
        last_word_by: float | None = None
        while True:
            if run.outcome is not None:
                if run.ended:
                    return
                if last_word_by is None:
                    last_word_by = time.monotonic() + LAST_WORD
                elif time.monotonic() >= last_word_by:
                    return
            elif not self.cancel_sent and self.cancel_requested():
                self.cancel_sent = True
                self.cancel()
                continue
            timeout = SILENCE if last_word_by is None else max(0.0, last_word_by - time.monotonic())
            try:
                message = self.link.receive(timeout, self.wake)
            except SocketClosed:
                self.reconnect()
                continue
            if message is WOKEN:
                if self.wake is not None:
                    os.read(self.wake, 64)
                continue
            if message is None:
                if run.outcome is None:
                    self.ask_history()
                continue
            self.lost_since = None
            preview = run.read(message)
            self.on_update(preview)

    def cancel(self) -> None:
        """Stop the prompt: interrupt it if it runs, take it out of the queue if it waits."""
        run = self.run
        assert run.prompt_id is not None
        if run.started:
            self.server.interrupt(run.prompt_id)
            return
        self.server.delete_queued([run.prompt_id])
        queue = self.server.queue()
        running = {item[1] for item in queue.get("queue_running") or [] if len(item) > 1}
        waiting = {item[1] for item in queue.get("queue_pending") or [] if len(item) > 1}
        if run.prompt_id in running:  # it started in the meantime
            self.server.interrupt(run.prompt_id)
        elif run.prompt_id not in waiting:
            run.outcome = "deleted"
            run.ended = True

    def ask_history(self) -> bool:
        """Whether `/history` says the prompt ended (it then holds the outcome)."""
        assert self.run.prompt_id is not None
        try:
            entry = self.server.history(self.run.prompt_id)
        except (ComfyUnreachable, ComfyAnswer):
            return False
        if entry is None:
            return False
        self.run.read_history(entry)
        return True

    def reconnect(self) -> None:
        """A new socket with the same client id; meanwhile, `/history` tells if it ended.

        The first try is at once (ComfyUI then names the node it runs); later ones wait a
        little longer each time and first ask `/history` whether the prompt ended meanwhile.
        """
        now = time.monotonic()
        if self.lost_since is None:
            self.lost_since = now
        first = now - self.lost_since < 1.0
        pause = 0.25
        while True:
            if not first:
                if self.ask_history():
                    return
                if time.monotonic() - self.lost_since > RECONNECT_FOR:
                    raise ComfyUnreachable(
                        self.server.url, f"its event socket stayed down for {RECONNECT_FOR:g} s"
                    )
                if self._sleep(pause) and not self.cancel_sent and self.cancel_requested():
                    self.cancel_sent = True
                    self.cancel()
                    if self.run.outcome is not None:
                        return
                pause = min(5.0, pause * 2)
            first = False
            try:
                self.link = self.server.socket(self.client_id)
            except (ComfyUnreachable, SocketClosed) as exc:
                print(f"ComfyUI's event socket: {exc}", file=sys.stderr)
                continue
            self.reconnects += 1
            if self.hello is not None:
                with contextlib.suppress(SocketClosed):
                    self.link.send_text(self.hello)
            return

    def _sleep(self, seconds: float) -> bool:
        """Wait, waking early (True) when the wake-up descriptor fires."""
        if self.wake is None:
            time.sleep(seconds)
            return False
        readable, _, _ = select.select([self.wake], [], [], seconds)
        if readable:
            os.read(self.wake, 64)
            return True
        return False
