"""The ComfyUI replay answers as the recorded ComfyUI did, and refuses what it never saw.

A client that does exactly what the recording's client did (same requests, bodies, sockets,
messages, in the same order) must get exactly the recorded answers and frames, in order and with
the recorded pace; a client that does anything else gets a loud refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.comfyui_replay import (
    RECORDINGS,
    Action,
    ComfyReplay,
    Scenario,
    check,
    is_client,
    recording,
    replay_server,
    socket_tag,
)

SCENARIOS = sorted(
    p.stem.split("_")[0]
    for p in RECORDINGS.glob("*.json")
    if not p.stem.startswith(("a5", "a6"))  # idle answers, checked through the catalogue
)
#: f1 is 11 s long. A read is skipped when the next frame is due before it came: at 5x a read
#: had 8 ms after the answer before it, which a loaded CI host missed (12 ms answers).
SPEED = {"f1": 2.0}


@pytest.fixture(scope="module")
def replay() -> Iterator[ComfyReplay]:
    with replay_server() as server:
        yield server


class RecordedClient:
    """Plays the client's side of a recording against the replay and keeps what comes back."""

    def __init__(self, replay: ComfyReplay, entries: list[dict[str, Any]]) -> None:
        self.replay = replay
        self.entries = entries
        self.sockets: dict[str, ClientConnection] = {}
        self.received: dict[str, list[tuple[float, str | bytes]]] = {}
        self.threads: list[threading.Thread] = []

    def run(self) -> None:
        for index, entry in enumerate(self.entries):
            if not is_client(entry):
                continue
            self._await_frames_before(index)
            if entry["kind"] == "http":
                self._request(index, entry)
            elif entry.get("event") == "connect":
                self._connect(entry)
            elif entry.get("event") == "close":
                self.sockets[socket_tag(entry)].close()
            else:
                self.sockets[socket_tag(entry)].send(entry["raw"])
        for thread in self.threads:
            thread.join(10)

    def _connect(self, entry: dict[str, Any]) -> None:
        tag = socket_tag(entry)
        ws = connect(self.replay.url.replace("http", "ws") + entry["path"], max_size=2**24)
        self.sockets[tag] = ws
        frames = self.received.setdefault(tag, [])

        def read() -> None:
            with contextlib.suppress(ConnectionClosed):
                for message in ws:
                    frames.append((time.monotonic(), message))

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _await_frames_before(self, index: int) -> None:
        wanted: dict[str, int] = {}
        for entry in self.entries[:index]:
            if not is_client(entry) and entry.get("frame") in ("text", "binary"):
                tag = socket_tag(entry)
                wanted[tag] = wanted.get(tag, 0) + 1
        deadline = time.monotonic() + 20
        while any(len(self.received.get(tag, [])) < n for tag, n in wanted.items()):
            assert time.monotonic() < deadline, f"frames before entry {index} never came"
            time.sleep(0.005)

    def _request(self, index: int, entry: dict[str, Any]) -> None:
        if "raw_body" in entry:
            data: bytes | None = entry["raw_body"].encode()
        elif "body" in entry:
            data = json.dumps(entry["body"]).encode()
        else:
            data = None
        response = requests.request(
            entry["method"], self.replay.url + entry["path"], data=data, timeout=20
        )
        answer = next(
            e
            for e in self.entries[index + 1 :]
            if e.get("kind") == "http" and not is_client(e) and e["path"] == entry["path"]
        )
        assert response.status_code == answer["status"], (entry["path"], response.text)
        assert response.reason == answer["reason"]
        for name in ("Content-Type", "Content-Disposition"):
            assert response.headers.get(name) == answer["headers"].get(name), name
        if "body" in answer:
            assert response.json() == answer["body"]
        elif "body_text" in answer:
            assert response.text == answer["body_text"]
        else:
            assert len(response.content) == answer["body_bytes_length"]
            assert response.content.hex().startswith(answer["body_first_bytes_hex"])


def recorded_frames(entries: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    return [
        e
        for e in entries
        if not is_client(e) and e.get("frame") in ("text", "binary") and socket_tag(e) == tag
    ]


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_client_that_does_what_the_recorded_one_did_gets_what_it_got(
    replay: ComfyReplay, name: str
) -> None:
    entries = recording(name)["entries"]
    speed = SPEED.get(name, 1.0)
    scenario = replay.play(name, speed=speed)
    client = RecordedClient(replay, entries)
    client.run()
    check(scenario)

    for tag, frames in client.received.items():
        recorded = recorded_frames(entries, tag)
        assert len(frames) == len(recorded), (tag, len(frames), len(recorded))
        for (_, got), want in zip(frames, recorded, strict=True):
            if want["frame"] == "text":
                assert got == want["raw"]
            else:
                assert isinstance(got, bytes) and len(got) == want["length"]
                assert got.hex().startswith(want["first_bytes_hex"])
                kind, second = struct.unpack(">II", got[:8])
                assert kind == want["event_type"]
                if kind == 4:
                    metadata = json.loads(got[8 : 8 + second])
                    assert metadata == want["metadata"]
                    picture = got[8 + second :]
                else:
                    assert second == want["image_format_code"]
                    picture = got[8:]
                assert len(picture) == want["image_bytes_length"]
                assert picture.hex().startswith(want["image_magic_hex"])
        # The pace: gaps between frames the server sent on its own are kept (never shorter).
        recorded_gap = received_gap = 0.0
        times = [t for t, _ in frames]
        for i in range(1, len(recorded)):
            between = [
                e
                for e in entries
                if is_client(e) and recorded[i - 1]["t"] <= e["t"] <= recorded[i]["t"]
            ]
            if not between:
                recorded_gap += recorded[i]["t"] - recorded[i - 1]["t"]
                received_gap += times[i] - times[i - 1]
        assert received_gap >= 0.7 * recorded_gap / speed - 0.05, (received_gap, recorded_gap)


def test_previews_are_real_jpegs_of_the_recorded_size(replay: ComfyReplay) -> None:
    entries = recording("c2")["entries"]
    scenario = replay.play("c2")
    client = RecordedClient(replay, entries)
    client.run()
    check(scenario)
    pictures = [m for _, m in client.received["main"] if isinstance(m, bytes)]
    assert len(pictures) == 4
    image = Image.open(io.BytesIO(pictures[0][8:]))
    image.load()
    assert image.format == "JPEG" and image.size == (512, 512)


def test_what_no_recording_holds_is_refused_loudly(replay: ComfyReplay) -> None:
    scenario = replay.play("b1")
    # a catalogued read of an idle server still answers
    stats = requests.get(replay.url + "/system_stats", timeout=10)
    assert stats.status_code == 200 and stats.json()["system"]["comfyui_version"] == "0.3.64"
    # a prompt other than the recorded one is refused, and noted
    other = {"prompt": {"1": {"class_type": "EmptyImage", "inputs": {}}}, "client_id": "x"}
    refused = requests.post(replay.url + "/prompt", json=other, timeout=10)
    assert refused.status_code == 501 and "no recording answers POST /prompt" in refused.text
    assert "WebSocket connect" in refused.json()["message"]  # what it waited for instead
    upload = requests.post(
        replay.url + "/upload/image", files={"image": ("a.png", b"png")}, timeout=10
    )
    assert upload.status_code == 501 and "'image'" in upload.json()["message"]
    with pytest.raises(AssertionError, match="no recording answers POST /prompt"):
        check(scenario, timeout=0.1)


def test_a_read_passes_unsent_frames_only_across_a_burst() -> None:
    """A client may read before the replay sent the frames recorded before that read, when
    those frames were one burst: ComfyUI was in the same state all along. Found in CI: the
    pipeline read /history right after its `executing` end, just before the replay had sent the
    observer socket's status of the same moment; the recorded client read 0.4 s later."""
    loop = asyncio.new_event_loop()
    try:
        scenario = Scenario(["h4"], 1.0, loop)
        scenario.task.cancel()
        prompt_id = recording("h4")["prompt_id"]
        history = Action(kind="http", method="GET", path=f"/history/{prompt_id}")
        entries = scenario.entries
        index = next(i for i, e in enumerate(entries) if e.get("path") == history.path)
        run_start = next(i for i, e in enumerate(entries) if e.get("path") == "/prompt") + 2
        scenario.pos = run_start  # the whole run (half a second of frames) is unsent
        assert scenario._match(history) is None
        scenario.pos = index - 1  # only the observer's last status is unsent
        assert not is_client(entries[scenario.pos]) and entries[scenario.pos]["t"] < 1.0
        assert scenario._match(history) == index
    finally:
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
