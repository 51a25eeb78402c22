"""Temp files of a writer that died are swept at start-up; those being written are left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gms_lab.core import files
from gms_lab.core.files import (
    UploadSink,
    _keep_alive,
    atomic_write,
    is_temp_name,
    sweep_partial_files,
    wait_released,
)
from tests.services import REPO, wait_until

WRITER = """
import sys, time
from pathlib import Path
from gms_lab.core.files import UploadSink
sink = UploadSink(Path(sys.argv[1]), Path(sys.argv[2]), 1 << 20)
sink.write(b"half a song")
print(sink.temp, flush=True)
time.sleep(60)
"""


def test_a_live_writers_temp_file_stays_and_a_dead_ones_goes(tmp_path: Path) -> None:
    uploads = tmp_path / "05_Cache" / "uploads"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(uploads), str(tmp_path / "song.wav")],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert writer.stdout is not None
    temp = Path(writer.stdout.readline().decode().strip())
    assert temp.name.startswith(".upload-") and temp.name.endswith(".part")
    assert sweep_partial_files(uploads) == []  # locked: being written
    assert temp.exists()
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    wait_until(lambda: sweep_partial_files(uploads) == [temp] or not temp.exists(), 10)
    assert not temp.exists()


def test_only_temp_names_are_swept(tmp_path: Path) -> None:
    keep = ["hero.png", "upload-notes.txt", "project.json", ".gitkeep", "upload-123.part"]
    for name in keep:
        (tmp_path / name).write_text("x")
    (tmp_path / ".project.json.77.deadbeef.tmp").write_text("{")
    (tmp_path / "upload-0123456789abcdef.part").write_text("half")
    swept = sweep_partial_files(tmp_path)
    assert sorted(p.name for p in swept) == [
        ".project.json.77.deadbeef.tmp",
        "upload-0123456789abcdef.part",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_a_finished_upload_leaves_no_temp_file(tmp_path: Path) -> None:
    sink = UploadSink(tmp_path / "uploads", tmp_path / "song.wav", 1 << 20)
    sink.write(b"a whole song")
    assert sink.finish() == tmp_path / "song.wav"
    assert list((tmp_path / "uploads").iterdir()) == []


def test_an_old_file_released_later_stays_whole_for_its_reader_and_then_goes(
    tmp_path: Path,
) -> None:
    """`atomic_write(release_later=True)` (a film's manifest) unlinks the old file in the
    background: a reader that opened it before reads it whole, nothing is left behind once
    released, and a name left by a crash in between is swept like any temp file."""
    target = tmp_path / "project.json"
    versions = [bytes([65 + n]) * (2 << 20) for n in range(4)]
    atomic_write(target, versions[0])
    with target.open("rb") as reader:
        first = os.fstat(reader.fileno()).st_ino
        for data in versions[1:]:
            atomic_write(target, data, release_later=True)
        assert wait_released()
        assert reader.read() == versions[0]  # its file lives on while it is open
    assert target.read_bytes() == versions[-1] and target.stat().st_ino != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.json"]
    left = _keep_alive(target)  # what a crash after the second name was made leaves
    assert left is not None and is_temp_name(left.name)
    assert sweep_partial_files(tmp_path) == [left]
    assert target.read_bytes() == versions[-1]
    assert _keep_alive(tmp_path / "missing.json") is None


def test_a_folder_that_cannot_be_fsynced_leaves_no_second_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write fails when its folder cannot be fsynced, and the old file's second name goes
    all the same."""
    target = tmp_path / "project.json"
    atomic_write(target, b"a" * (2 << 20))

    def broken(_: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "fsync_dir", broken)
    with pytest.raises(OSError, match="Input/output"):
        atomic_write(target, b"b" * (2 << 20), release_later=True)
    assert wait_released()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project.json"]
