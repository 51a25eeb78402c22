"""The workspace trash on its own: assets, positions, clashes, retention and crash recovery."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from gms_lab.core import assets, hierarchy
from gms_lab.core.errors import Conflict, NotFound
from gms_lab.core.files import UploadSink, sweep_partial_files
from gms_lab.core.services import StudioCore
from gms_lab.core.trash import RestoreConflict
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import NodeCreate, Project, ProjectCreate, Scene, utcnow
from tests.services import studio_config


@pytest.fixture
def core(tmp_path: Path) -> StudioCore:
    return StudioCore(studio_config(tmp_path / "ws", trash_retention_days=30))


def scenes(core: StudioCore, pid: str, *names: str) -> tuple[str, list[str]]:
    """A chapter with scenes of these names: (chapter id, scene ids)."""

    def build(p: Project) -> tuple[str, list[str]]:
        ch = hierarchy.add(p, NodeCreate(kind="chapter", name="One")).node.id
        ids = [
            hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name=n)).node.id for n in names
        ]
        return ch, ids

    return core.manifests.update(pid, build)[1]


def scene_ids(core: StudioCore, pid: str) -> list[str]:
    return [s.id for s in core.projects.get(pid).chapters[0].scenes]


def test_an_asset_goes_to_the_trash_and_back(core: StudioCore) -> None:
    pid = core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    root = core.projects.path(pid)
    hero = root / "01_Assets" / "Characters" / "crew" / "hero.png"
    hero.parent.mkdir()
    hero.write_bytes(b"png" * 100)

    item = core.trash.delete_asset(pid, "01_Assets/Characters/crew/hero.png", by="Ada")
    assert not hero.exists()
    assert item.kind == "asset" and item.name == "hero.png" and item.size == 300
    assert item.where == ["Characters", "crew"] and item.deleted_by == "Ada"
    assert [i.id for i in core.trash.items(pid)] == [item.id]

    # something new in its place: restoring says so and changes nothing
    hero.write_bytes(b"new")
    with pytest.raises(RestoreConflict, match="in the way"):
        core.trash.restore(item.id)
    assert hero.read_bytes() == b"new"
    hero.unlink()
    core.trash.restore(item.id)
    assert hero.read_bytes() == b"png" * 100
    assert core.trash.items() == []

    with pytest.raises(NotFound):
        core.trash.delete_asset(pid, "project.json")
    with pytest.raises(NotFound):
        core.trash.delete_asset(pid, "01_Assets/Characters")
    with pytest.raises(NotFound):
        core.trash.delete_asset(pid, "01_Assets/Characters/nobody.png")


def test_nodes_return_after_their_old_neighbour_or_at_the_end(core: StudioCore) -> None:
    pid = core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    _, (a, b, c, d) = scenes(core, pid, "A", "B", "C", "D")

    _, first = core.trash.delete_node(pid, a)
    _, third = core.trash.delete_node(pid, c)
    assert third.after == b and third.index == 1
    # its neighbour B is gone too: C goes back at the end of the chapter
    _, b_item = core.trash.delete_node(pid, b)
    core.trash.restore(third.id)
    assert scene_ids(core, pid) == [d, c]
    # a first node goes back first
    core.trash.restore(first.id)
    assert scene_ids(core, pid) == [a, d, c]
    # B was first when it went (A had gone before): it comes back first
    core.trash.restore(b_item.id)
    assert scene_ids(core, pid) == [b, a, d, c]


def test_restoring_into_a_gone_parent_or_a_gone_project_is_refused(core: StudioCore) -> None:
    pid = core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    chapter, (scene,) = scenes(core, pid, "Dawn")
    _, scene_item = core.trash.delete_node(pid, scene)
    _, chapter_item = core.trash.delete_node(pid, chapter)
    with pytest.raises(RestoreConflict, match="chapter it was in"):
        core.trash.restore(scene_item.id)
    project_item = core.trash.delete_project(pid)
    with pytest.raises(RestoreConflict, match="restore the project first") as caught:
        core.trash.restore(chapter_item.id)
    assert caught.value.details["trashId"] == project_item.id
    assert isinstance(caught.value, Conflict) and caught.value.status == 409
    core.trash.restore(project_item.id)
    core.trash.restore(chapter_item.id)
    core.trash.restore(scene_item.id)
    assert scene_ids(core, pid) == [scene]


def test_retention_erases_old_items_only(core: StudioCore) -> None:
    pid = core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    _, (a, b) = scenes(core, pid, "A", "B")
    _, old = core.trash.delete_node(pid, a)
    _, young = core.trash.delete_node(pid, b)
    [listed, _] = core.trash.items()
    assert listed.expires == listed.deleted + timedelta(days=30)
    erased = core.trash.erase_expired(now=old.deleted + timedelta(days=30, seconds=1))
    assert set(erased) == {old.id, young.id}  # both are older than 30 days by then
    assert core.trash.items() == []

    keeper = StudioCore(studio_config(core.config.workspace, trash_retention_days=0))
    _, kept = keeper.trash.delete_node(pid, keeper.projects.get(pid).chapters[0].id)
    assert keeper.trash.erase_expired(now=utcnow() + timedelta(days=3650)) == []
    assert [i.id for i in keeper.trash.items()] == [kept.id]
    assert keeper.trash.items()[0].expires is None


def test_a_deletion_cut_short_by_a_crash_is_finished_or_undone(core: StudioCore) -> None:
    pid = core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    root = core.projects.path(pid)
    asset = root / "01_Assets" / "Styles" / "grain.png"
    asset.write_bytes(b"x")
    item = core.trash.delete_asset(pid, "01_Assets/Styles/grain.png")
    # as if the server died after moving the files, before the item was complete
    folder = core.trash.root / item.id
    folder.rename(core.trash.root / f".incoming-{item.id}")
    core.trash.recover()
    assert [i.id for i in core.trash.items()] == [item.id]

    # a node whose manifest write never happened: its files go back to the project
    _, (scene,) = scenes(core, pid, "Dawn")
    _, node_item = core.trash.delete_node(pid, scene)
    manifest_before = core.projects.get(pid)
    # put the scene back in the manifest as if the write had not happened
    again = Scene.model_validate(core.trash.get(node_item.id).node)
    core.manifests.update(pid, lambda p: p.chapters[0].scenes.append(again))
    (core.trash.root / node_item.id).rename(core.trash.root / f".incoming-{node_item.id}")
    core.trash.recover()
    assert node_item.id not in [i.id for i in core.trash.items()]
    assert (
        scene in scene_ids(core, pid) and manifest_before.version < core.projects.get(pid).version
    )

    # an erase cut short is finished, never listed half-done
    shutil.copytree(core.trash.root / item.id, core.trash.root / f".erasing-{item.id}")
    core.trash.recover()
    assert not (core.trash.root / f".erasing-{item.id}").exists()


def test_a_project_does_not_come_back_over_one_of_the_same_name(core: StudioCore) -> None:
    from gms_lab.models import ProjectPatch

    item = core.trash.delete_project(
        core.projects.create(ProjectCreate(name="Harbour"), STUDIO_AUTHOR).id
    )
    other = core.projects.create(ProjectCreate(name="Lighthouse"), STUDIO_AUTHOR).id
    core.projects.update(other, ProjectPatch(name="harbour"))
    with pytest.raises(RestoreConflict, match="named 'Harbour' exists already"):
        core.trash.restore(item.id)
    assert not (core.workspace.projects_dir / "harbour").exists()
    core.projects.update(other, ProjectPatch(name="Lighthouse"))
    core.trash.restore(item.id)
    assert core.projects.get("harbour").name == "Harbour"


def test_an_upload_that_ends_after_its_project_went_to_the_trash_adds_nothing(
    core: StudioCore,
) -> None:
    pid = core.projects.create(ProjectCreate(name="Pier"), STUDIO_AUTHOR).id
    root = core.projects.path(pid)
    target = assets.upload_target(root, category="Characters", name="crew/hero.png", path=None)
    sink = UploadSink(root / assets.UPLOADS, target, 1 << 20)
    sink.write(b"the first half of a character sheet")

    [item] = [core.trash.delete_project(pid, by="Ada")]
    sink.write(b" and the rest, which arrives after the delete")
    with pytest.raises(NotFound, match="deleted while the file was arriving"):
        sink.finish()

    # nothing made again where the project was, and the project restores as it was deleted
    assert not root.exists()
    core.trash.restore(item.id)
    assert not (root / "01_Assets" / "Characters" / "crew").exists()
    assert not any(assets.list_assets(pid, root, 64).values())
    # its partial file came back hidden with the project; no writer holds it, the sweep takes it
    [partial] = (root / assets.UPLOADS).iterdir()
    assert partial.name.startswith(".") and sweep_partial_files(partial.parent) == [partial]
