"""A manifest's old versions are retired and written over (`files.Retired`), never freed, and
no reader ever sees one half-written: on a real filesystem, with real locks and processes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import git
import orjson
import pytest

from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy, manifest
from gms_lab.core.errors import ProjectDamaged
from gms_lab.core.files import Retired, read_locked
from gms_lab.core.manifest import RETIRED_FOLDER, ManifestStore
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import NodeCreate, Project, ProjectCreate


def version(n: int) -> bytes:
    return orjson.dumps({"version": n, "pad": "x" * (n % 7) * 100})


def write(retired: Retired, path: Path, folder: Path, n: int) -> None:
    retired.write(path, version(n), folder, os.stat(path).st_ino)


def contents(folder: Path) -> dict[str, int]:
    return {p.name: json.loads(p.read_bytes())["version"] for p in sorted(folder.iterdir())}


def test_old_versions_are_retired_then_written_over_never_freed(tmp_path: Path) -> None:
    path, folder = tmp_path / "project.json", tmp_path / "retired"
    path.write_bytes(version(0))
    retired = Retired(grace=0.05, most=3)
    for n in range(1, 4):  # each older version is kept, the retired files grow to three
        write(retired, path, folder, n)
    assert json.loads(path.read_bytes())["version"] == 3
    assert sorted(contents(folder).values()) == [0, 1, 2]
    time.sleep(0.1)  # past the grace: the oldest retired file is written over
    oldest = min(folder.iterdir(), key=lambda p: p.stat().st_ctime_ns)
    inode = oldest.stat().st_ino
    write(retired, path, folder, 4)
    # the file at the path is that same inode (it was never freed: the number is not reused)
    assert path.stat().st_ino == inode and json.loads(path.read_bytes())["version"] == 4
    assert sorted(contents(folder).values()) == [1, 2, 3]  # version 3 retired in its place
    assert len(list(folder.iterdir())) == 3


def test_a_retired_file_within_its_grace_is_not_written_over(tmp_path: Path) -> None:
    path, folder = tmp_path / "project.json", tmp_path / "retired"
    path.write_bytes(version(0))
    retired = Retired(grace=60, most=2)
    for n in range(1, 6):  # two retired files, then plain writes: none written over
        write(retired, path, folder, n)
    assert sorted(contents(folder).values()) == [0, 1]
    assert json.loads(path.read_bytes())["version"] == 5
    # nothing else is left beside the file (no temp file stayed behind)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.json", "retired"]


def test_a_reader_holding_an_old_version_keeps_it_whole(tmp_path: Path) -> None:
    path, folder = tmp_path / "project.json", tmp_path / "retired"
    path.write_bytes(version(0))
    retired = Retired(grace=0, most=1)
    with open(path, "rb") as held:  # a reader opened version 0 and has not read it yet
        read_locked(held.fileno())
        for n in range(1, 5):
            write(retired, path, folder, n)
        assert json.loads(held.read())["version"] == 0  # not written over under the reader
    assert json.loads(path.read_bytes())["version"] == 4
    write(retired, path, folder, 5)  # let go of: it is written over again
    assert json.loads(path.read_bytes())["version"] == 5


def test_a_writer_that_takes_a_retired_file_holds_readers_until_it_is_whole(
    tmp_path: Path,
) -> None:
    """A reader that opened a file just as it was being written over waits, then reads the
    whole new version."""
    path, folder = tmp_path / "project.json", tmp_path / "retired"
    path.write_bytes(version(0))
    retired = Retired(grace=0, most=1)
    write(retired, path, folder, 1)  # version 0 is retired
    old = next(folder.iterdir())
    reader = os.open(old, os.O_RDONLY)  # opened, not locked yet
    try:
        done = threading.Event()
        seen: list[int] = []

        def read() -> None:
            read_locked(reader)
            seen.append(json.loads(os.pread(reader, 1 << 20, 0))["version"])
            done.set()

        # the writer takes the retired file (version 0) for version 2, and the reader locks it
        # meanwhile: it reads version 2 whole, or (locked first) version 0 kept whole
        thread = threading.Thread(target=read)
        thread.start()
        write(retired, path, folder, 2)
        assert done.wait(10)
        thread.join()
        assert seen[0] in (0, 2)
    finally:
        os.close(reader)


def test_a_project_without_git_is_written_as_before(tmp_path: Path) -> None:
    path = tmp_path / "project.json"
    path.write_bytes(version(0))
    retired = Retired(grace=0)
    for n in range(1, 4):
        retired.write(path, version(n), tmp_path / ".git" / "retired", os.stat(path).st_ino)
    assert json.loads(path.read_bytes())["version"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.json"]


@pytest.fixture
def core(tmp_path: Path) -> StudioCore:
    core = StudioCore(StudioConfig.from_env({"workspace": tmp_path / "ws"}, env={}))
    core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR)
    return core


def _chapter(name: str) -> Callable[[Project], object]:
    return lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name=name))


def test_reads_beside_fast_writes_never_see_a_half_written_manifest(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retired files written over at once (no grace): another store's reads are whole and
    never go back a version, kept so by their shared locks alone."""
    monkeypatch.setattr(manifest, "_RETIRED", Retired(grace=0, most=2))
    reader = ManifestStore(core.workspace, cache_size=1)
    stop, versions, errors = threading.Event(), [], []

    def read() -> None:
        while not stop.is_set():
            try:
                versions.append(reader.read("harbour").version)
            except ProjectDamaged as exc:
                errors.append(exc)
            reader.forget("harbour")  # parse it again every time
            time.sleep(0.0005)  # and let the writer have the interpreter too

    path = core.projects.path("harbour") / "project.json"
    inodes = [path.stat().st_ino]
    thread = threading.Thread(target=read)
    thread.start()
    try:
        for i in range(120):
            core.manifests.update("harbour", _chapter(f"act {i}"))
            inodes.append(path.stat().st_ino)
    finally:
        stop.set()
        thread.join(30)
    assert errors == [] and len(versions) > 10
    assert versions == sorted(versions)
    # mostly two files in turns: each write took the file retired by the one before
    in_turns = sum(a == b for a, b in zip(inodes, inodes[2:], strict=False))
    assert in_turns > 60, in_turns


def test_commits_beside_writes_hold_whole_manifests_and_never_the_retired_files(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git stages the manifest under its lock: every version committed while another thread
    writes is whole, and the retired files (inside `.git`) are never committed."""
    monkeypatch.setattr(manifest, "_RETIRED", Retired(grace=0, most=2))
    repo, root = core.projects.repo("harbour"), core.projects.path("harbour")
    stop = threading.Event()

    def writing() -> None:
        i = 0
        while not stop.is_set():
            core.manifests.update("harbour", _chapter(f"scene {i}"))
            i += 1

    thread = threading.Thread(target=writing)
    thread.start()
    try:
        for i in range(8):  # the manifest named, then everything
            repo.commit(f"commit {i}", STUDIO_AUTHOR, None if i % 2 else ["project.json"])
    finally:
        stop.set()
        thread.join(30)
    history = git.Repo(root)
    committed = [c for c in history.iter_commits() if c.message.startswith("commit")]
    assert len(committed) >= 2
    for commit in committed:
        assert {p for p in commit.stats.files} <= {"project.json"}
        Project.model_validate_json(history.git.show(f"{commit.hexsha}:project.json"))
    assert (root / RETIRED_FOLDER).is_dir()
    assert "gms-retired" not in history.git.ls_files()
