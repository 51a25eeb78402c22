"""A pipeline's output is flushed to disk before it is renamed into the project: a take named
in the manifest is never an empty file after a power cut."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gms_lab.tasks import execute


@pytest.mark.parametrize("sync", [True, False])
def test_an_output_is_flushed_before_it_is_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sync: bool
) -> None:
    job = tmp_path / "03_Renders" / ".jobs" / "t1"
    job.mkdir(parents=True)
    output = job / "take.png"
    output.write_bytes(b"the picture")  # written by the pipeline's process, not flushed
    target = tmp_path / "03_Renders" / "ch" / "sc" / "sh" / "tk_1.png"
    flushed: list[tuple[Path, int, bool]] = []
    real = execute.fsync_path

    def fsync_path(path: Path) -> None:  # the real flush, noted: which file, still in the job?
        real(path)
        flushed.append((path, os.stat(path).st_ino, path.exists() and not target.exists()))

    monkeypatch.setattr(execute, "fsync_path", fsync_path)
    inode = output.stat().st_ino
    placed = execute._place(output, target, sync=sync)
    assert placed == target and target.read_bytes() == b"the picture" and not output.exists()
    # the picture's own bytes were flushed, at its place in the job, before the rename
    assert flushed == [(output, inode, True)]
    assert target.stat().st_ino == inode
