"""The server killed with `kill -9` mid-write and mid-upload loses nothing it acknowledged.

A real `jupyter server` with the studio is killed while clients change a shot and while a
file streams in; after a restart on the same workspace the manifest is the old or the new one
(never torn, every acknowledged change in it), and no partial file is anywhere, listed or not.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import figures
from tests.integration.test_fuzz_api import Studio, seed
from tests.services import wait_until

ROUNDS = 4


@pytest.fixture
def studio(tmp_path: Path, redis_url: str) -> Iterator[Studio]:
    running = Studio(tmp_path / "workspace", redis_url, tmp_path / "server.log").start()
    yield running
    running.stop()


def partial_files(project: Path) -> list[Path]:
    """Temp files of writers: half-written manifests, partial uploads (hidden or not)."""
    found = list(project.glob(".*.tmp")) + list(project.rglob("*.part"))
    return [p for p in found if ".git" not in p.parts]


def shot_of(studio: Studio) -> str:
    project = studio.call("GET", "projects/harbour").json()
    return str(project["chapters"][0]["scenes"][0]["shots"][0]["id"])


def test_kill_9_mid_manifest_write_loses_no_acknowledged_change(studio: Studio) -> None:
    seed(studio)
    shot = shot_of(studio)
    project_dir = studio.workspace / "Projects" / "harbour"
    lost = 0
    for _ in range(ROUNDS):
        acked: list[tuple[int, int]] = []  # (writer's n, version) answered 200
        stop = threading.Event()

        def write(
            writer: int, acked: list[tuple[int, int]] = acked, stop: threading.Event = stop
        ) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    answer = studio.call(
                        "PATCH",
                        f"projects/harbour/nodes/{shot}",
                        json={"properties": {f"w{writer}": n, "note": "x" * 2000}},
                    )
                except requests.RequestException:
                    return  # the server is gone
                if answer.status_code == 200:
                    acked.append((n, answer.json()["version"]))

        writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
        for t in writers:
            t.start()
        wait_until(lambda acked=acked: len(acked) >= 5, 30)
        time.sleep(random.uniform(0.0, 0.3))
        studio.kill()
        figures.count("faults injected")
        stop.set()
        for t in writers:
            t.join(timeout=30)
        studio.start()
        # the manifest reads (never torn) and holds every change that was answered 200
        answer = studio.call("GET", "projects/harbour")
        assert answer.status_code == 200, answer.text
        project = answer.json()
        newest = max(version for _, version in acked)
        if project["version"] < newest:
            lost += 1
        leftovers = partial_files(project_dir)
        figures.count("partial files left", len(leftovers))
        assert leftovers == []
    figures.count("changes lost", lost)
    assert lost == 0


def test_kill_9_mid_upload_leaves_no_partial_file(studio: Studio) -> None:
    seed(studio)
    project_dir = studio.workspace / "Projects" / "harbour"
    uploads = project_dir / "05_Cache" / "uploads"
    for round_ in range(ROUNDS):
        sent = threading.Event()

        def body(sent: threading.Event = sent) -> Iterator[bytes]:
            for _ in range(400):
                yield b"\x89PNG" + b"\0" * 65532
                sent.set()
                time.sleep(0.01)

        def upload(name: str = f"hero-{round_}.png", body: object = body) -> None:
            with contextlib.suppress(requests.RequestException):  # the server is gone
                studio.call(
                    "POST",
                    "projects/harbour/files",
                    params={"category": "characters", "name": name},
                    data=body(),  # type: ignore[operator]
                )

        client = threading.Thread(target=upload)
        client.start()
        sent.wait(30)
        wait_until(lambda: any(uploads.glob(".upload-*.part")), 30)
        studio.kill()
        figures.count("faults injected")
        client.join(timeout=60)
        studio.start()
        leftovers = partial_files(project_dir)
        figures.count("partial files left", len(leftovers))
        assert leftovers == []
        assert not (project_dir / "01_Assets" / "Characters" / f"hero-{round_}.png").exists()
        listing = studio.call("GET", "projects/harbour/files").json()["files"]
        assert not [f for f in listing if f["path"].endswith((".part", ".tmp"))]
        assets = studio.call("GET", "projects/harbour/assets").json()
        assert assets["categories"]["characters"] == []
