"""Job folders kept for reuse by rename (`SpareFolders`) and copies made as hard links
(`link_or_write`), in `gms_lab.core.files`: each saves a new inode (our machines' ext4 without a
journal scans every inode freed lately for each new one)."""

from __future__ import annotations

import os
from pathlib import Path

from gms_lab.core.files import SpareFolders, link_or_write


def _spares(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(SpareFolders.PREFIX))


def test_an_empty_folder_given_back_becomes_the_next_folder_asked_for(tmp_path: Path) -> None:
    spares = SpareFolders()
    first, second = tmp_path / "task-1", tmp_path / "task-2"
    assert not spares.take(first)  # nothing kept yet: the caller makes it
    first.mkdir()
    inode = first.stat().st_ino
    assert spares.give(first)
    assert not first.exists() and len(_spares(tmp_path)) == 1
    assert spares.take(second)
    assert second.is_dir() and second.stat().st_ino == inode  # the same folder, renamed
    assert list(second.iterdir()) == [] and _spares(tmp_path) == []


def test_a_folder_that_holds_something_is_not_kept(tmp_path: Path) -> None:
    spares = SpareFolders()
    job = tmp_path / "task"
    job.mkdir()
    (job / "left.png").write_bytes(b"x")
    assert not spares.give(job)
    assert (job / "left.png").read_bytes() == b"x" and _spares(tmp_path) == []


def test_a_folder_asked_for_that_is_there_and_holds_something_keeps_its_files(
    tmp_path: Path,
) -> None:
    """A redelivered task's folder with its first try's files: the caller clears it; the spare
    stays for the next."""
    spares = SpareFolders()
    spare = tmp_path / "done"
    spare.mkdir()
    assert spares.give(spare)
    again = tmp_path / "again"
    again.mkdir()
    (again / "take.png").write_bytes(b"first try")
    assert not spares.take(again)
    assert (again / "take.png").exists() and len(_spares(tmp_path)) == 1
    assert spares.take(tmp_path / "next")


def test_spares_are_kept_up_to_a_number_and_gone_ones_are_passed_over(tmp_path: Path) -> None:
    spares = SpareFolders(keep=2)
    folders = [tmp_path / f"t{i}" for i in range(3)]
    for folder in folders:
        folder.mkdir()
    assert [spares.give(f) for f in folders] == [True, True, False]
    assert folders[2].is_dir() and len(_spares(tmp_path)) == 2
    for name in _spares(tmp_path):  # someone removed them (the project went to the trash)
        (tmp_path / name).rmdir()
    assert not spares.take(tmp_path / "new")


def test_the_spares_a_process_left_are_taken_up_by_the_next(tmp_path: Path) -> None:
    left = tmp_path / f"{SpareFolders.PREFIX}1-1"  # a worker that ended (pid 1 is not us)
    left.mkdir()
    spares = SpareFolders()
    assert spares.take(tmp_path / "task")
    assert not left.exists() and (tmp_path / "task").is_dir()


def test_a_copy_is_a_hard_link_and_replaces_the_one_there(tmp_path: Path) -> None:
    source = tmp_path / "take.png"
    source.write_bytes(b"picture")
    copy = tmp_path / "thumb.png"
    link_or_write(source, copy, b"picture")
    assert copy.stat().st_ino == source.stat().st_ino and copy.read_bytes() == b"picture"
    other = tmp_path / "other.png"
    other.write_bytes(b"another")
    link_or_write(other, copy, b"another")  # over the one there, whole
    assert copy.stat().st_ino == other.stat().st_ino and source.stat().st_nlink == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.png", "take.png", "thumb.png"]


def test_a_copy_is_written_when_no_link_can_be_made(tmp_path: Path) -> None:
    gone = tmp_path / "gone.png"  # the source went meanwhile: the bytes at hand are written
    copy = tmp_path / "thumb.png"
    link_or_write(gone, copy, b"bytes at hand")
    assert copy.read_bytes() == b"bytes at hand" and copy.stat().st_nlink == 1
    assert sorted(os.listdir(tmp_path)) == ["thumb.png"]
