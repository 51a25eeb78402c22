"""project.json changes go through one writer: locked, versioned, atomic, nothing lost."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy
from gms_lab.core.errors import InvalidInput, VersionConflict
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import NodeCreate, Project, ProjectCreate


def make_core(root: Path) -> StudioCore:
    return StudioCore(StudioConfig.from_env({"workspace": root}, env={}))


@pytest.fixture
def core(tmp_path: Path) -> StudioCore:
    core = make_core(tmp_path / "ws")
    core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR)
    return core


def add_chapters(root: str, project_id: str, prefix: str, count: int) -> None:
    core = make_core(Path(root))
    for i in range(count):
        core.manifests.update(
            project_id,
            lambda p, i=i: hierarchy.add(p, NodeCreate(kind="chapter", name=f"{prefix}{i}")),
        )


def test_threads_and_processes_lose_no_change(core: StudioCore) -> None:
    root = str(core.workspace.root)
    per_writer = 15
    threads = [
        threading.Thread(target=add_chapters, args=(root, "harbour", f"t{n}-", per_writer))
        for n in range(4)
    ]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=add_chapters, args=(root, "harbour", f"p{n}-", per_writer))
        for n in range(3)
    ]
    for w in [*threads, *procs]:
        w.start()
    for t in threads:
        t.join()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    project = core.projects.get("harbour")
    names = {c.name for c in project.chapters}
    assert len(names) == 7 * per_writer
    assert project.version == 1 + 7 * per_writer
    # the file on disk is whole JSON, and no temp file was left behind
    folder = core.workspace.project_dir("harbour")
    json.loads((folder / "project.json").read_text())
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_stale_version_is_refused_and_nothing_written(core: StudioCore) -> None:
    before = (core.workspace.project_dir("harbour") / "project.json").read_bytes()
    with pytest.raises(VersionConflict):
        core.manifests.update(
            "harbour", lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name="x")), 99
        )
    assert (core.workspace.project_dir("harbour") / "project.json").read_bytes() == before


def test_invalid_change_is_refused_and_nothing_written(core: StudioCore) -> None:
    before = core.projects.get("harbour")

    def break_it(project: Project) -> None:
        project.settings.fps = -1

    with pytest.raises(InvalidInput):
        core.manifests.update("harbour", break_it)
    assert core.projects.get("harbour") == before


def test_hierarchy_add_move_remove_keeps_ids(core: StudioCore) -> None:
    def build(p: Project) -> tuple[str, str, str, str]:
        ch = hierarchy.add(p, NodeCreate(kind="chapter", name="Act 1")).node.id
        sc = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="Dawn")).node.id
        a = hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="Wide")).node.id
        b = hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="Close", index=0)).node.id
        return ch, sc, a, b

    project, (ch, sc, a, b) = core.manifests.update("harbour", build)
    shots = project.chapters[0].scenes[0].shots
    assert [s.id for s in shots] == [b, a]
    assert ch.startswith("ch_") and sc.startswith("sc_") and a.startswith("sh_")
    with pytest.raises(InvalidInput):
        core.manifests.update(
            "harbour", lambda p: hierarchy.add(p, NodeCreate(kind="shot", parent_id=ch, name="x"))
        )
    project, _ = core.manifests.update("harbour", lambda p: hierarchy.remove(p, sc))
    assert project.chapters[0].scenes == []
