"""project.json changes go through one writer: locked, versioned, atomic, nothing lost."""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy, manifest, takes
from gms_lab.core.errors import InvalidInput, NotFound, TooLarge, VersionConflict
from gms_lab.core.files import atomic_write
from gms_lab.core.forks import fork
from gms_lab.core.limits import JsonLimits, check
from gms_lab.core.manifest import Serialiser
from gms_lab.core.services import StudioCore
from gms_lab.core.vcs import STUDIO_AUTHOR
from gms_lab.models import NodeCreate, Project, ProjectCreate, Take, TakeStatus, utcnow


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


# -- fast, and still durable ------------------------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy, takes
from gms_lab.core.services import StudioCore
from gms_lab.models import NodeCreate

core = StudioCore(StudioConfig.from_env({"workspace": Path(sys.argv[1])}, env={}))
core.manifests.on_write = None
for i in range(10_000):
    project, _ = core.manifests.update(
        "harbour", lambda p, i=i: hierarchy.add(p, NodeCreate(kind="chapter", name=f"c{i}"))
    )
    print(project.version, f"c{i}", flush=True)  # the answer: only after the write returned
"""


def test_an_answered_write_survives_kill_9_of_the_writer(core: StudioCore) -> None:
    """A writer is killed (-9) the moment it has answered: every answered change is on disk."""
    root = core.workspace.root
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert writer.stdout is not None
    answered: list[tuple[int, str]] = []
    for _ in range(40):
        version, name = writer.stdout.readline().split()
        answered.append((int(version), name.decode()))
    os.kill(writer.pid, signal.SIGKILL)  # right after an answer, likely in the middle of a write
    writer.wait(timeout=10)
    # a fresh reader (another process's view: nothing cached) finds every answered change
    project = make_core(root).projects.get("harbour")
    names = {c.name for c in project.chapters}
    assert {name for _, name in answered} <= names
    assert project.version >= answered[-1][0]
    folder = core.workspace.project_dir("harbour")
    json.loads((folder / "project.json").read_text())


def test_a_change_made_elsewhere_is_seen_at_the_next_read(core: StudioCore) -> None:
    """The in-memory copy is checked against the file: an editor's change shows at once."""
    assert core.projects.get("harbour").name == "Harbour"  # now held in memory
    path = core.workspace.project_dir("harbour") / "project.json"
    data = json.loads(path.read_text())
    data["name"] = "Harbor"  # same size: only the file's stamp and head tell
    path.write_text(json.dumps(data, indent=2))
    assert core.projects.get("harbour").name == "Harbor"
    # and a second process's write (our own writer, elsewhere) too
    other = make_core(core.workspace.root)
    other.manifests.update("harbour", lambda p: setattr(p, "name", "Port"))
    assert core.projects.get("harbour").name == "Port"
    assert [p.name for p in core.projects.list()] == ["Port"]


def test_a_snapshot_never_changes_under_its_reader(core: StudioCore) -> None:
    """What `get` handed out stays as it was while later versions are written."""
    _, shot = core.manifests.update("harbour", _shot_with_take)
    before = core.projects.get("harbour")
    frozen_json = before.model_dump_json()
    take_id = before.chapters[0].scenes[0].shots[0].takes[0].id
    core.manifests.update("harbour", lambda p: takes.complete(p, take_id, "03_Renders/t.png"))
    core.manifests.update("harbour", lambda p: hierarchy.remove(p, shot))
    assert before.model_dump_json() == frozen_json
    after = core.projects.get("harbour")
    assert after.chapters[0].scenes[0].shots == []
    # takes are shared between versions, so they cannot be edited in place
    with pytest.raises(ValidationError):
        before.chapters[0].scenes[0].shots[0].takes[0].status = TakeStatus.error  # type: ignore[misc]


def _shot_with_take(p: Project) -> str:
    ch = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
    sc = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="B")).node.id
    shot = hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="C")).node.id
    takes.add_generating(
        p, shot, pipeline="still", parameters={}, seed=1, task_id="t", tier="standard"
    )
    return shot


def test_a_value_of_the_wrong_type_is_refused_and_nothing_written(core: StudioCore) -> None:
    path = core.workspace.project_dir("harbour") / "project.json"
    before = path.read_bytes()
    with pytest.raises(InvalidInput):
        core.manifests.update("harbour", lambda p: p.chapters.append({"id": "x"}))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        core.manifests.update("harbour", lambda p: setattr(p, "quality", "ultra"))
    assert path.read_bytes() == before
    assert core.projects.get("harbour").chapters == []


def test_the_answer_is_the_manifest_as_written(core: StudioCore) -> None:
    """The REST answer for a project is the file's JSON, serialised once per version."""
    core.manifests.update("harbour", _shot_with_take)
    project, body = core.projects.get_serialised("harbour")
    path = core.workspace.project_dir("harbour") / "project.json"
    assert body == path.read_bytes()
    assert Project.model_validate_json(body) == project


def deep(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "properties",
    [deep(150), deep(205), deep(250), {"big": 2**70}, {"big": 7**6000}, {"text": "\ud800"}],
    ids=["deep", "too-deep-to-read", "too-deep-to-write", "64-bits", "long", "lone-surrogate"],
)
def test_nothing_is_written_that_could_not_be_read_back(
    core: StudioCore, properties: dict[str, object]
) -> None:
    shot = core.manifests.update("harbour", lambda p: _shot(p))[1]
    before = (core.workspace.projects_dir / "harbour" / "project.json").read_bytes()

    def change(p: Project) -> None:
        hierarchy.find(p, shot).node.properties = properties  # type: ignore[union-attr]

    with pytest.raises(InvalidInput, match="nothing was written"):
        core.manifests.update("harbour", change)
    assert (core.workspace.projects_dir / "harbour" / "project.json").read_bytes() == before
    assert core.projects.get("harbour").version == 2


def _shot(p: Project) -> str:
    chapter = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
    scene = hierarchy.add(p, NodeCreate(kind="scene", parent_id=chapter, name="B")).node.id
    return hierarchy.add(p, NodeCreate(kind="shot", parent_id=scene, name="C")).node.id


def test_limits_check_values_built_in_python(core: StudioCore) -> None:
    limits = core.limits
    limits_check(deep(10), limits)
    for bad, words in [
        (deep(40), "deeper than 32"),
        ({"n": float("nan")}, "not a JSON number"),
        ({"n": 2**64}, "64 bits"),
        ({"n": -(10**5000)}, "64 bits"),
        ({"s": "\udcff"}, "lone surrogate"),
        ({"when": object()}, "not JSON"),
        ({1: "a"}, "not text"),
    ]:
        with pytest.raises(InvalidInput, match=words):
            limits_check(bad, limits)
    with pytest.raises(TooLarge):
        limits_check({"s": "x" * 2_000_000}, limits)


def limits_check(value: object, limits: JsonLimits) -> None:
    check(value, limits, "The value", measure=True)


def test_after_another_process_wrote_only_what_changed_is_read_anew(core: StudioCore) -> None:
    """Another writer (the worker) changed one take: this process sees exactly that change,
    and keeps the takes that did not change (no full validation of a large manifest)."""

    def many(p: Project) -> str:
        shot = _shot_with_take(p)
        for n in range(50):
            takes.add_generating(
                p, shot, pipeline="still", parameters={"n": n}, seed=n, task_id=f"t{n}", tier="low"
            )
        return shot

    core.manifests.update("harbour", many)
    before = core.projects.get("harbour")
    old = before.chapters[0].scenes[0].shots[0].takes
    other = make_core(core.workspace.root)  # another process: its own memory
    other.manifests.update("harbour", lambda p: takes.complete(p, old[7].id, "03_Renders/x.png"))
    after = core.projects.get("harbour")
    new = after.chapters[0].scenes[0].shots[0].takes
    assert new[7].status == TakeStatus.completed and new[7].file == "03_Renders/x.png"
    assert all(a is b for i, (a, b) in enumerate(zip(old, new, strict=True)) if i != 7)
    path = core.workspace.project_dir("harbour") / "project.json"
    assert after == Project.model_validate_json(path.read_bytes())
    # and this process's next write is what a fresh writer would write
    core.manifests.update("harbour", lambda p: setattr(p, "name", "Harbour 2"))
    assert path.read_bytes() == make_core(core.workspace.root).projects.get_serialised("harbour")[1]


def test_in_a_shot_of_many_takes_another_process_changed_only_those_takes_are_parsed(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After another process (a worker, a submit) changed some takes of a shot of 60, this
    process parses those takes alone: the others are the objects it had (found by comparing
    their known text, not parsed), the project is what a full read gives, and its next write
    is exact. Done in the middle, done at both ends, added at the end, removed, inserted,
    reordered."""
    [shot] = core.manifests.update("harbour", lambda p: _film(p, 1))[1]

    def add(n: int) -> Callable[[Project], Any]:
        return lambda p: takes.add_generating(
            p, shot, pipeline="still", parameters={"n": n}, seed=n, task_id=f"t{n}", tier="low"
        )

    for n in range(60):  # one write each: this process knows every take's text
        core.manifests.update("harbour", add(n))
    parsed: list[dict[str, Any]] = []
    real = manifest._take_text

    def counting(data: dict[str, Any]) -> bytes:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(manifest, "_take_text", counting)
    other = make_core(core.workspace.root)  # another process: its own memory
    path = core.workspace.project_dir("harbour") / "project.json"

    def listed(p: Project) -> list[Any]:
        return _node(p, shot).takes

    def done(*positions: int) -> Callable[[Project], Any]:
        def change(p: Project) -> None:
            for at in positions:
                takes.complete(p, listed(p)[at].id, f"f{at}.png")

        return change

    def insert(p: Project) -> None:
        listed(p).insert(30, listed(p).pop())

    def swap(p: Project) -> None:
        items = listed(p)
        items[10], items[50] = items[50], items[10]

    changes: list[tuple[Callable[[Project], Any], int]] = [
        (done(31), 1),
        (done(0, 59), 2),
        (add(60), 1),
        (lambda p: [add(n)(p) for n in (61, 62)], 2),
        (lambda p: listed(p).pop(20), 0),
        (insert, 1),  # the take moved is parsed at its new place
        (swap, 2),  # neither end run reaches the middle: the two moved takes are parsed again
    ]
    for number, (change, expected) in enumerate(changes):
        before = {id(t) for t in listed(core.projects.get("harbour"))}
        other.manifests.update("harbour", change)
        parsed.clear()
        after = core.projects.get("harbour")
        assert after == Project.model_validate_json(path.read_bytes())
        ids = {t["id"] for t in parsed}
        assert len(parsed) == expected, (number, ids)
        assert all(id(t) in before for t in listed(after) if t.id not in ids)
        # and this process's next write is what a fresh writer writes
        core.manifests.update("harbour", lambda p: setattr(p, "name", p.name + "!"))
        written = path.read_bytes()
        assert written == Serialiser().dump(Project.model_validate_json(written))
    assert len(listed(core.projects.get("harbour"))) == 62


def test_reads_in_part_agree_with_full_reads_through_random_changes(core: StudioCore) -> None:
    """Property check of the read in part (seeded): whatever another process does to the
    takes of several shots — done, added, removed, moved within or between shots, changed
    parameters, several at once — this process reads what a full read gives, and its next
    write is what a fresh writer writes."""
    import random

    rng = random.Random(14)
    shots = core.manifests.update("harbour", lambda p: _film(p, 3, lambda n: {"n": n}))[1]
    other = make_core(core.workspace.root)
    path = core.workspace.project_dir("harbour") / "project.json"
    made = iter(range(10_000))

    def change(p: Project) -> None:
        for _ in range(rng.choice((1, 1, 2, 5))):
            listed = _node(p, rng.choice(shots)).takes
            kind = rng.choice(("add", "add", "done", "done", "remove", "move", "edit", "out"))
            if kind == "add" or not listed:
                n = next(made)
                takes.add_generating(
                    p,
                    _node(p, rng.choice(shots)).id,
                    pipeline="still",
                    parameters={"n": n, "text": "x" * rng.randrange(40)},
                    seed=n,
                    task_id=f"t{n}",
                    tier="low",
                )
            elif kind == "done":
                takes.complete(p, rng.choice(listed).id, f"f{next(made)}.png")
            elif kind == "remove":
                listed.pop(rng.randrange(len(listed)))
            elif kind == "move":
                listed.insert(
                    rng.randrange(len(listed) + 1), listed.pop(rng.randrange(len(listed)))
                )
            elif kind == "edit":
                at = rng.randrange(len(listed))
                listed[at] = listed[at].model_copy(update={"parameters": {"n": -at}})
            else:  # to another shot
                _node(p, rng.choice(shots)).takes.append(listed.pop(rng.randrange(len(listed))))

    for _ in range(40):  # a first film, written by this process
        core.manifests.update("harbour", change)
    for step in range(120):
        writer = other if step % 3 else core
        writer.manifests.update("harbour", change)
        after = core.projects.get("harbour")
        assert after == Project.model_validate_json(path.read_bytes()), step
        core.manifests.update("harbour", lambda p, n=step: setattr(p, "name", f"Harbour {n}"))
        written = path.read_bytes()
        assert written == Serialiser().dump(Project.model_validate_json(written)), step


def test_a_take_ending_is_found_in_its_shot_and_anywhere_it_was_moved(core: StudioCore) -> None:
    """A task's take is looked for in the shot it was made for (from its newest take), and
    found all the same once moved to another shot, or when the shot named is gone."""
    first, second = core.manifests.update("harbour", lambda p: _film(p, 2, lambda n: {"n": n}))[1]

    def taken(p: Project, shot: str) -> list[Any]:
        return _node(p, shot).takes

    ids = [t.id for t in taken(core.projects.get("harbour"), first)]
    core.manifests.update("harbour", lambda p: takes.complete(p, ids[0], "a.png", shot_id=first))
    moved = core.projects.get("harbour")
    assert taken(moved, first)[0].status == TakeStatus.completed

    def move(p: Project) -> None:
        taken(p, second).append(taken(p, first).pop())

    core.manifests.update("harbour", move)
    core.manifests.update(
        "harbour", lambda p: takes.fail(p, ids[0], "late", cancelled=True, shot_id=first)
    )
    core.manifests.update("harbour", lambda p: takes.complete(p, ids[0], "b.png", shot_id="gone"))
    after = taken(core.projects.get("harbour"), second)[-1]
    assert after.id == ids[0] and after.status == TakeStatus.completed and after.file == "b.png"


def test_a_shot_not_changed_is_not_serialised_again_and_every_write_is_exact(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each write encodes only the shots that changed, and its bytes are what a fresh writer
    makes of the same project, whatever changed: a value's type alone (1, 1.0, true), a take,
    a name, the order of shots."""
    from gms_lab.core import manifest

    shots = core.manifests.update("harbour", lambda p: _film(p, 20, lambda n: {"n": n}))[1]
    encoded = _count_encoded(monkeypatch)
    path = core.workspace.project_dir("harbour") / "project.json"

    def set_property(value: object) -> Any:
        return lambda p: _node(p, shots[3]).properties.__setitem__("lens", value)

    changes = [
        (set_property(1), [shots[3]]),
        (set_property(True), [shots[3]]),
        (set_property(1.0), [shots[3]]),
        (set_property(1.0), []),  # the same value again: nothing to encode
        (lambda p: setattr(_node(p, shots[5]), "name", "Renamed"), [shots[5]]),
        (lambda p: setattr(p, "name", "Harbour 2"), []),
        (
            lambda p: takes.add_generating(
                p, shots[9], pipeline="still", parameters={}, seed=1, task_id="x", tier="low"
            ),
            [shots[9]],
        ),
        (lambda p: p.chapters[0].scenes[0].shots.reverse(), []),
    ]
    for change, expected in changes:
        encoded.clear()
        core.manifests.update("harbour", change)
        assert encoded == expected
        written = path.read_bytes()
        assert written == manifest.Serialiser().dump(Project.model_validate_json(written))
    lens = _node(core.projects.get("harbour"), shots[3]).properties["lens"]
    assert lens == 1.0 and type(lens) is float


def test_in_a_shot_of_many_takes_only_the_take_that_changed_is_encoded(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take finishing in a shot of 40 takes encodes that take alone (the others go in as
    their kept text), and the file is exactly what a fresh writer makes."""
    [shot] = core.manifests.update("harbour", lambda p: _film(p, 1))[1]

    def add(p: Project) -> list[str]:
        return [
            takes.add_generating(
                p, shot, pipeline="still", parameters={"n": n}, seed=n, task_id=f"t{n}", tier="low"
            ).id
            for n in range(40)
        ]

    ids = core.manifests.update("harbour", add)[1]
    from gms_lab.core import manifest

    encoded: list[str] = []
    real = manifest.orjson

    def takes_in(value: Any) -> None:  # the takes' JSON handed to the encoder (not texts)
        if isinstance(value, dict):
            if value.get("id") in ids:
                encoded.append(value["id"])
            for item in value.values():
                takes_in(item)
        elif isinstance(value, list):
            for item in value:
                takes_in(item)

    class Counting:
        Fragment, OPT_INDENT_2 = real.Fragment, real.OPT_INDENT_2

        @staticmethod
        def dumps(value: Any, **kwargs: Any) -> bytes:
            takes_in(value)
            return real.dumps(value, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(manifest, "orjson", Counting())
    path = core.workspace.project_dir("harbour") / "project.json"
    for n in (7, 0, 39):
        encoded.clear()
        core.manifests.update("harbour", lambda p, n=n: takes.complete(p, ids[n], f"f{n}.png"))
        assert encoded == [ids[n]]
        written = path.read_bytes()
        assert written == Serialiser().dump(Project.model_validate_json(written))
    done = core.projects.get("harbour").chapters[0].scenes[0].shots[0].takes
    assert [t.status for t in done].count("completed") == 3


def test_the_manifest_is_indented_json_with_a_take_a_line_through_every_kind_of_take_change(
    core: StudioCore,
) -> None:
    """The serialiser puts a shot together from its kept take texts (joined into its list,
    not encoded again): its bytes stay those of the project's JSON indented by two spaces with
    each take compact on a line of its own, however the takes change — done, added at the end,
    put in the middle, removed, reordered, none left — with names and values that JSON must
    escape."""
    shots = core.manifests.update("harbour", lambda p: _film(p, 3))[1]

    def layout(project: Project) -> bytes:
        data = project.model_dump(mode="json", by_alias=True)
        for chapter in data["chapters"]:
            for scene in chapter["scenes"]:
                for shot in scene["shots"]:
                    shot["takes"] = [orjson.Fragment(orjson.dumps(t)) for t in shot["takes"]]
        return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"

    def add(shot: str, n: int) -> Callable[[Project], Any]:
        parameters = {"prompt": f'a "quoted"\nline \u00e9\u4e2d \u2603 {n}', "n": [n, 2.5, None]}
        return lambda p: takes.add_generating(
            p, shot, pipeline="still", parameters=parameters, seed=n, task_id=f"t{n}", tier="low"
        )

    def shot_takes(p: Project, shot: str) -> list[Any]:
        return _node(p, shot).takes

    def insert_middle(p: Project) -> None:
        listed = shot_takes(p, shots[0])
        listed.insert(1, listed.pop())

    changes: list[Callable[[Project], Any]] = [add(shots[0], n) for n in range(5)]
    changes += [
        lambda p: takes.complete(p, shot_takes(p, shots[0])[2].id, "f2.png", "t2.png"),
        add(shots[1], 9),
        insert_middle,
        lambda p: shot_takes(p, shots[0]).reverse(),
        lambda p: shot_takes(p, shots[0]).pop(0),
        lambda p: shot_takes(p, shots[1]).clear(),
        lambda p: setattr(_node(p, shots[0]), "name", 'Shot \u00e9 "one"'),
    ]
    path = core.workspace.project_dir("harbour") / "project.json"
    for change in changes:
        core.manifests.update("harbour", change)
        written = path.read_bytes()
        assert written == layout(Project.model_validate_json(written))
    final = core.projects.get("harbour")
    assert [len(_node(final, s).takes) for s in shots] == [4, 0, 0]


def test_after_another_process_wrote_only_the_shots_it_changed_are_parsed(
    core: StudioCore,
) -> None:
    """Another process changes the film in every way it can: this process reads each version
    exactly (the same JSON as a fresh parse, and it answers the file's bytes), while every
    shot that process did not touch is still this process's very object."""

    shots = core.manifests.update("harbour", lambda p: _film(p, 12, lambda n: {"n": 1}, 2))[1]
    other = make_core(core.workspace.root)  # another process: its own memory
    path = core.workspace.project_dir("harbour") / "project.json"

    def retake(p: Project) -> None:  # a take's parameter changes type only: 1 → true
        shot = _node(p, shots[4])
        shot.takes[0] = shot.takes[0].model_copy(update={"parameters": {"n": True}})

    def move(p: Project) -> None:
        first, second = p.chapters[0].scenes
        second.shots.append(first.shots.pop(0))

    changes = [
        (lambda p: _node(p, shots[2]).properties.__setitem__("lens", 1), {shots[2]}),
        (lambda p: _node(p, shots[2]).properties.__setitem__("lens", 1.0), {shots[2]}),
        (retake, {shots[4]}),
        (lambda p: p.chapters[0].scenes[0].shots.reverse(), set()),
        (move, set()),
        (lambda p: setattr(p, "name", "Harbour 2"), set()),
        (lambda p: p.chapters[0].scenes[1].shots.clear(), set()),
    ]
    for change, touched in changes:
        before = {s.id: s for _, s in _shots_of(core.projects.get("harbour"))}
        other.manifests.update("harbour", change)
        after = core.projects.get("harbour")
        fresh = Project.model_validate_json(path.read_bytes())
        assert after.model_dump_json() == fresh.model_dump_json()
        assert core.projects.get_serialised("harbour")[1] == path.read_bytes()
        for _, shot in _shots_of(after):
            assert (shot is before[shot.id]) == (shot.id not in touched)

    # a take read anew once is known from then on: not validated again (a read alone, no
    # answer serialised in between)
    def retake_again(p: Project) -> None:
        shot = _node(p, shots[4])
        shot.takes[0] = shot.takes[0].model_copy(update={"parameters": {"n": "again"}})

    other.manifests.update("harbour", retake_again)
    retaken = _node(core.projects.get("harbour"), shots[4]).takes[0]
    assert retaken.parameters == {"n": "again"}
    other.manifests.update("harbour", lambda p: setattr(_node(p, shots[4]), "name", "Again"))
    assert _node(core.projects.get("harbour"), shots[4]).takes[0] is retaken
    # a manifest laid out by hand (re-indented) is read as it says
    data = json.loads(path.read_bytes())
    data["chapters"][0]["scenes"][0]["shots"][0]["name"] = "By hand"
    path.write_text(json.dumps(data, indent=4))
    project = core.projects.get("harbour")
    assert project.chapters[0].scenes[0].shots[0].name == "By hand"
    assert (
        project.model_dump_json()
        == Project.model_validate_json(path.read_bytes()).model_dump_json()
    )


def test_answers_stay_exact_while_threads_and_another_process_write(core: StudioCore) -> None:
    """The kept shot texts are shared by the threads of a process: while two of its threads
    and another process's store change shots, every answer this process gives is exactly the
    version it names, and the last one is the file."""

    shots = core.manifests.update("harbour", lambda p: _film(p, 8))[1]
    other = make_core(core.workspace.root)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(store: StudioCore, n: int) -> None:
        i = 0
        while not stop.is_set():
            shot = shots[(n + i) % len(shots)]

            def change(p: Project, shot: str = shot, i: int = i) -> None:
                node = _node(p, shot)
                if i % 2:  # a property alone, or a take alone
                    node.properties[f"w{n}"] = i
                else:
                    takes.add_generating(
                        p,
                        shot,
                        pipeline="still",
                        parameters={"i": i},
                        seed=i,
                        task_id=f"{n}-{i}",
                        tier="low",
                    )

            store.manifests.update("harbour", change, coalesce=n % 2 == 0)
            i += 1

    reads = []

    def reader() -> None:
        while not stop.is_set():
            reads.append(1)
            project, body = core.projects.get_serialised("harbour")
            answered = Project.model_validate_json(body)
            if answered.model_dump_json() != project.model_dump_json():
                raise AssertionError(f"version {project.version}: the answer is not the version")

    def guarded(target: Any, *args: Any) -> None:
        try:
            target(*args)
        except BaseException as exc:  # reported below
            errors.append(exc)
            stop.set()

    workers = [
        threading.Thread(target=guarded, args=(writer, core, 0)),
        threading.Thread(target=guarded, args=(writer, core, 1)),
        threading.Thread(target=guarded, args=(writer, other, 2)),
        threading.Thread(target=guarded, args=(reader,)),
        threading.Thread(target=guarded, args=(reader,)),
    ]
    for w in workers:
        w.start()
    time.sleep(2.0)
    stop.set()
    for w in workers:
        w.join()
    assert not errors, errors
    path = core.workspace.project_dir("harbour") / "project.json"
    assert core.projects.get_serialised("harbour")[1] == path.read_bytes()
    assert sum(len(s.takes) for _, s in _shots_of(core.projects.get("harbour"))) > 6
    assert len(reads) > 3


def test_a_lazy_change_copies_only_what_it_finds_and_writes_what_a_full_one_does(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take change on a lazy fork (`update(lazy=True)`) copies the shot it finds and its
    chapter and scene, shares every other shot with the project it was read from, never
    alters that project, encodes only the shot it changed, and writes the same bytes as the
    same change on a full fork (the take found in its shot, after a move in another, and added
    when missing)."""
    shots = core.manifests.update("harbour", lambda p: _film(p, 12, lambda n: {"n": n}, scenes=3))[
        1
    ]
    core.projects.create(ProjectCreate(name="Twin"), STUDIO_AUTHOR)
    twin = core.workspace.project_dir("twin") / "project.json"
    path = core.workspace.project_dir("harbour") / "project.json"

    def same_film() -> None:
        # the twin holds the very same manifest, ids and all (its own id aside)
        data = orjson.loads(path.read_bytes())
        data["id"] = "twin"
        twin.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")

    encoded = _count_encoded(monkeypatch)
    take_of = {shot: _node(core.projects.get("harbour"), shot).takes[0].id for shot in shots}
    missing = takes.MissingTake(
        Take(id="tk_late", pipeline="still", parameters={}, task_id="late", tier="low"),
        shots[7],
    )
    # each change, the shot it alters, and the shots it finds (copied)
    changes: list[tuple[Callable[[Project], Any], str, set[str]]] = [
        (
            lambda p: takes.complete(p, take_of[shots[4]], "a.png", shot_id=shots[4]),
            shots[4],
            {shots[4]},
        ),
        (
            # looked for in the shot named first, found in another
            lambda p: takes.fail(p, take_of[shots[9]], "no", shot_id=shots[2]),
            shots[9],
            {shots[2], shots[9]},
        ),
        (
            lambda p: takes.complete(p, "tk_late", "b.png", missing=missing),
            shots[7],
            {shots[7]},
        ),
        (
            lambda p: takes.add_generating(
                p,
                shots[11],
                pipeline="still",
                parameters={},
                seed=1,
                task_id="x",
                tier="low",
                take_id="tk_new",
            ),
            shots[11],
            {shots[11]},
        ),
    ]
    for change, shot, found in changes:
        same_film()
        before = core.projects.get("harbour")
        kept = before.model_dump_json()
        core.manifests.update("twin", change)  # a full fork
        encoded.clear()
        after = core.manifests.update("harbour", change, coalesce=True, lazy=True)[0]
        assert encoded == [shot]
        assert before.model_dump_json() == kept  # the project it was read from is untouched
        changed = {s.id for c in after.chapters for sc in c.scenes for s in sc.shots}
        assert changed == set(shots)
        for (_, old), (_, new) in zip(_shots_of(before), _shots_of(after), strict=True):
            assert (old is new) == (old.id not in found), old.id
        written = orjson.loads(path.read_bytes())
        full = orjson.loads(twin.read_bytes())
        written["id"] = full["id"]
        for data in (written, full):  # a take added now: made at a moment of its own
            for c in data["chapters"]:
                for sc in c["scenes"]:
                    for sh in sc["shots"]:
                        for take in sh["takes"]:
                            if take["id"] == "tk_new":
                                take.pop("created")
        assert written == full
        assert path.read_bytes() == manifest.Serialiser().dump(
            Project.model_validate_json(path.read_bytes())
        )


def test_lazy_changes_written_together_one_that_fails_leaves_no_trace(core: StudioCore) -> None:
    """Changes written in one go each run on a lazy fork of the one before: the second alters
    the shot the first changed and then fails, and only the first is written."""
    shot = core.manifests.update("harbour", lambda p: _film(p, 3, lambda n: {"n": n}))[1][1]
    take_id = _node(core.projects.get("harbour"), shot).takes[0].id

    def failing(p: Project) -> None:
        takes.fail(p, take_id, "half done", shot_id=shot)
        raise InvalidInput("no")

    path = core.workspace.project_dir("harbour") / "project.json"
    first = manifest._Waiting(lambda p: takes.complete(p, take_id, "a.png", shot_id=shot), True)
    second = manifest._Waiting(failing, True)
    with core.manifests.lock("harbour"):
        written = core.manifests._commit("harbour", path, [first, second])
    assert written is not None and isinstance(second.error, InvalidInput)
    done = _node(core.projects.get("harbour"), shot).takes[0]
    assert done.status == TakeStatus.completed and done.error is None and done.file == "a.png"


def test_a_lazy_fork_copies_a_whole_chapter_or_scene_it_finds(core: StudioCore) -> None:
    """A change that finds a chapter or a scene on a lazy fork may alter anything under it:
    all of it is copied, the project it came from keeps its own."""
    from gms_lab.core import forks

    shots = core.manifests.update("harbour", lambda p: _film(p, 4, lambda n: {"n": n}, 2))[1]
    original = core.projects.get("harbour")
    kept = original.model_dump_json()
    chapter = original.chapters[0]
    copy = forks.lazy_fork(original)
    with forks.owning(copy):
        found = hierarchy.find(copy, chapter.id).node
        for scene in found.scenes:
            for shot in scene.shots:
                shot.name = "changed"
        scene = hierarchy.find(copy, chapter.scenes[1].id).node
        scene.shots[0].properties["lens"] = "35mm"
    assert original.model_dump_json() == kept
    assert {s.name for sc in copy.chapters[0].scenes for s in sc.shots} == {"changed"}
    assert _node(copy, shots[1]).properties == {"lens": "35mm"}
    # outside `owning`, the same find on the fork hands out what is there, copying nothing
    assert hierarchy.find(copy, shots[0]).node is copy.chapters[0].scenes[0].shots[0]


def test_a_write_encodes_only_the_chapters_and_scenes_its_change_copied(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chapter or scene that is the same object as in the version last written goes in as
    its kept JSON: a take change on a lazy fork encodes its own chapter, scene and shot; a
    change on a full fork (every chapter and scene copied) encodes them all but the shots
    that did not change. Every write's bytes are what a fresh writer makes of them."""
    first = core.manifests.update("harbour", lambda p: _film(p, 6, lambda n: {"n": n}, 3))[1]
    core.manifests.update("harbour", lambda p: _film(p, 4, lambda n: {"n": n}, 2))
    path = core.workspace.project_dir("harbour") / "project.json"
    chapters = _count_encoded(monkeypatch, "scenes")
    scenes = _count_encoded(monkeypatch, "shots")
    shots = _count_encoded(monkeypatch, "takes")

    def written(change: Callable[[Project], Any], lazy: bool) -> Project:
        for counted in (chapters, scenes, shots):
            counted.clear()
        project = core.manifests.update("harbour", change, coalesce=lazy, lazy=lazy)[0]
        counts = [list(counted) for counted in (chapters, scenes, shots)]
        assert path.read_bytes() == Serialiser().dump(
            Project.model_validate_json(path.read_bytes())
        )
        for counted, count in zip((chapters, scenes, shots), counts, strict=True):
            counted[:] = count  # what the fresh writer encoded is not the write's
        return project

    def done(shot: str) -> Callable[[Project], Any]:
        return lambda p: takes.complete(p, _node(p, shot).takes[0].id, f"{shot}.png", shot_id=shot)

    project = written(done(first[4]), lazy=True)
    chapter, scene = project.chapters[0], project.chapters[0].scenes[1]
    assert (chapters, scenes, shots) == ([chapter.id], [scene.id], [first[4]])
    written(done(first[2]), lazy=True)  # the same chapter, another scene
    assert (chapters, scenes, shots) == (
        [chapter.id],
        [project.chapters[0].scenes[2].id],
        [first[2]],
    )
    project = written(done(first[0]), lazy=False)
    assert chapters == [c.id for c in project.chapters]
    assert scenes == [sc.id for c in project.chapters for sc in c.scenes]
    assert shots == [first[0]]
    written(done(first[5]), lazy=True)  # kept again after a full fork
    assert len(chapters) == len(scenes) == len(shots) == 1


def test_chapters_and_scenes_read_back_as_written_are_not_encoded_again(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After another process's write, the chapters and scenes read back as this process last
    wrote them keep their JSON: a take change then encodes only its own chapter, scene and
    shot. One renamed by the other process (its own fields changed) is encoded again, and
    every write's bytes are what a fresh writer makes of them."""
    first = core.manifests.update("harbour", lambda p: _film(p, 6, lambda n: {"n": n}, 3))[1]
    second = core.manifests.update("harbour", lambda p: _film(p, 4, lambda n: {"n": n}, 2))[1]
    other = make_core(core.workspace.root)  # another process: its own memory
    path = core.workspace.project_dir("harbour") / "project.json"
    chapters = _count_encoded(monkeypatch, "scenes")
    scenes = _count_encoded(monkeypatch, "shots")
    shots = _count_encoded(monkeypatch, "takes")

    def done(shot: str) -> Callable[[Project], Any]:
        return lambda p: takes.complete(p, _node(p, shot).takes[0].id, f"{shot}.png", shot_id=shot)

    def by(writer: StudioCore, change: Callable[[Project], Any]) -> list[list[str]]:
        for counted in (chapters, scenes, shots):
            counted.clear()
        writer.manifests.update("harbour", change, coalesce=True, lazy=True)
        counts = [list(counted) for counted in (chapters, scenes, shots)]
        assert path.read_bytes() == Serialiser().dump(
            Project.model_validate_json(path.read_bytes())
        )
        return counts

    other.projects.get("harbour")
    by(other, done(first[1]))  # read by `core` at its next write
    project = core.projects.get("harbour")
    one, two = project.chapters
    # what the other process changed is encoded once more (a shot of one take read anew)
    assert by(core, done(second[0])) == [
        [one.id, two.id],
        [one.scenes[1].id, two.scenes[0].id],
        [first[1], second[0]],
    ]
    assert by(core, done(second[1])) == [[two.id], [two.scenes[1].id], [second[1]]]
    by(other, done(first[2]))  # in the third scene of the first chapter
    assert by(core, done(second[2])) == [
        [one.id, two.id],
        [one.scenes[2].id, two.scenes[0].id],
        [first[2], second[2]],
    ]

    def rename(p: Project) -> None:  # the other chapter, and a scene of the first
        hierarchy.find(p, p.chapters[1].id).node.name = "Renamed"
        hierarchy.find(p, p.chapters[0].scenes[2].id).node.name = "Renamed too"

    other.manifests.update("harbour", rename)
    assert by(core, done(first[4])) == [
        [one.id, two.id],
        [one.scenes[1].id, one.scenes[2].id],
        [first[4]],
    ]
    assert [c.name for c in core.projects.get("harbour").chapters] == ["A", "Renamed"]


def test_a_node_is_found_where_it_was_last_found_and_anywhere_else_it_went() -> None:
    """`hierarchy.find` keeps where it last found a node as a hint: after the node moved, was
    removed, or in another project of the same id, the hint is checked and the node is found
    where it is, or not at all."""
    project = Project(id="film", name="Film", created=utcnow())
    shots = _film(project, 3, lambda n: {"n": n})
    for n in range(4):
        takes.add_generating(
            project, shots[0], pipeline="still", parameters={}, seed=n, task_id=f"m{n}", tier="low"
        )
    take_ids = [t.id for t in _node(project, shots[0]).takes]
    for take_id in take_ids:
        assert hierarchy.find(project, take_id, "take").node.id == take_id
    twin = fork(project)
    hierarchy.remove(twin, take_ids[1])  # the takes after it move up one place
    assert [hierarchy.find(twin, t).node.id for t in take_ids[2:]] == take_ids[2:]
    with pytest.raises(NotFound):
        hierarchy.find(twin, take_ids[1])
    assert hierarchy.find(project, take_ids[1]).node.id == take_ids[1]  # still in the original
    moved = hierarchy.find(twin, take_ids[3]).node
    hierarchy.remove(twin, take_ids[3])
    _node(twin, shots[2]).takes.insert(0, moved)
    found = hierarchy.find(twin, take_ids[3], "take")
    assert found.node is moved and found.parent is _node(twin, shots[2])
    with pytest.raises(NotFound):
        hierarchy.find(twin, take_ids[3], "shot")  # a hint of another kind is not taken


def _count_encoded(monkeypatch: pytest.MonkeyPatch, nested: str = "takes") -> list[str]:
    """The ids of the shots (the chapters: `nested="scenes"`, the scenes: `"shots"`) the
    writer encodes from here on (not taken as kept text; a shot's text made of its last text
    around its new takes counts as encoded)."""
    encoded: list[str] = []
    real, splice = manifest._with, manifest._spliced

    def counting(model: Any, children_of: str, children: list[Any]) -> dict[str, Any]:
        if children_of == nested:
            encoded.append(model.id)
        return real(model, children_of, children)

    def spliced(last: Any, parts: list[bytes], changed: list[int]) -> bytes | None:
        text = splice(last, parts, changed)
        if text is not None and nested == "takes":
            encoded.append(last.shot.id)
        return text

    monkeypatch.setattr(manifest, "_with", counting)
    monkeypatch.setattr(manifest, "_spliced", spliced)
    return encoded


def _film(
    p: Project,
    count: int,
    parameters: Callable[[int], dict[str, Any]] | None = None,
    scenes: int = 1,
) -> list[str]:
    """One chapter of `scenes` scenes holding `count` shots in turn, each with a take being
    generated (of `parameters(n)`) unless `parameters` is None; the shots' ids."""
    chapter = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
    scene_ids = [
        hierarchy.add(p, NodeCreate(kind="scene", parent_id=chapter, name=f"B{i}")).node.id
        for i in range(scenes)
    ]
    ids = [
        hierarchy.add(
            p, NodeCreate(kind="shot", parent_id=scene_ids[i % scenes], name=f"S{i}")
        ).node.id
        for i in range(count)
    ]
    if parameters is not None:
        for n, shot in enumerate(ids):
            takes.add_generating(
                p,
                shot,
                pipeline="still",
                parameters=parameters(n),
                seed=n,
                task_id=f"t{n}",
                tier="low",
            )
    return ids


def _node(p: Project, node_id: str) -> Any:
    return hierarchy.find(p, node_id).node


def _shots_of(project: Project) -> list[tuple[str, Any]]:
    return [
        (scene.id, shot) for c in project.chapters for scene in c.scenes for shot in scene.shots
    ]


_COALESCED_WRITER = """
import sys, threading
from pathlib import Path
from gms_lab.config import StudioConfig
from gms_lab.core import hierarchy
from gms_lab.core.services import StudioCore
from gms_lab.models import NodeCreate

core = StudioCore(StudioConfig.from_env({"workspace": Path(sys.argv[1])}, env={}))
core.manifests.on_write = None
printing = threading.Lock()

def write(thread):
    for i in range(10_000):
        name = f"t{thread}-{i}"
        project, _ = core.manifests.update(
            "harbour",
            lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name=name)),
            coalesce=True,
        )
        with printing:  # the answer: only after the write holding the change returned
            print(project.version, name, flush=True)

for n in range(6):
    threading.Thread(target=write, args=(n,)).start()
"""


def test_an_answered_coalesced_write_survives_kill_9_of_the_writer(core: StudioCore) -> None:
    """Six threads whose changes are written together: the writer is killed (-9) after 60
    answers, and every answered change is on disk."""
    root = core.workspace.root
    writer = subprocess.Popen(
        [sys.executable, "-c", _COALESCED_WRITER, str(root)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert writer.stdout is not None
    answered: list[tuple[int, str]] = []
    for _ in range(60):
        version, name = writer.stdout.readline().split()
        answered.append((int(version), name.decode()))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    project = make_core(root).projects.get("harbour")
    names = {c.name for c in project.chapters}
    assert {name for _, name in answered} <= names
    assert project.version >= max(version for version, _ in answered)
    json.loads((core.workspace.project_dir("harbour") / "project.json").read_text())


def _held_while_queued(core: StudioCore, changes: list[Any]) -> list[Any]:
    """Run `changes` (coalesced) in threads while the project's lock is held elsewhere, and let
    go once all of them wait: what each call answered (the project and outcome, or the error)."""
    answers: list[Any] = [None] * len(changes)

    def call(n: int) -> None:
        try:
            answers[n] = core.manifests.update("harbour", changes[n], coalesce=True)
        except Exception as exc:
            answers[n] = exc

    path = core.workspace.project_dir("harbour") / "project.json"
    with core.manifests.lock("harbour"):  # another writer (a process, say) has the project
        threads = [threading.Thread(target=call, args=(n,)) for n in range(len(changes))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            batch = core.manifests._batches.get(path)
            if batch is not None and len(batch.waiting) == len(changes):
                break
            time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=10)
    return answers


def test_changes_waiting_together_are_written_together(core: StudioCore) -> None:
    before = core.projects.get("harbour").version
    names = [f"act {n}" for n in range(8)]
    answers = _held_while_queued(
        core,
        [lambda p, n=n: hierarchy.add(p, NodeCreate(kind="chapter", name=n)).node for n in names],
    )
    project = core.projects.get("harbour")
    # one write for all eight, each caller answered with the project as written
    assert project.version == before + 1
    assert sorted(c.name for c in project.chapters) == names  # in the order they came
    for (answered, node), name in zip(answers, names, strict=True):
        assert answered.version == project.version and node.name == name


def test_a_change_that_fails_among_others_fails_alone(core: StudioCore) -> None:
    def missing(p: Project) -> None:
        hierarchy.remove(p, "sh_nowhere")

    def unreadable(p: Project) -> None:
        chapter = hierarchy.add(p, NodeCreate(kind="chapter", name="odd")).node
        chapter.__dict__["name"] = 12  # the wrong type: only writing the project finds out

    answers = _held_while_queued(
        core,
        [
            lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name="first")),
            missing,
            unreadable,
            lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name="last")),
        ],
    )
    assert isinstance(answers[1], NotFound) and isinstance(answers[2], InvalidInput)
    project = core.projects.get("harbour")
    assert sorted(c.name for c in project.chapters) == ["first", "last"]
    assert answers[0][0].version <= answers[3][0].version == project.version


def _chapter(name: str) -> Callable[[Project], Any]:
    return lambda p: hierarchy.add(p, NodeCreate(kind="chapter", name=name))


def _written_beside(store: Any, announced: bool) -> tuple[int, int]:
    """A thread files a take (0.3 s) while another write starts: the versions the write and
    the take's change were answered with."""
    inside, answers = threading.Event(), []

    def filing() -> None:
        with store.coming("harbour") if announced else contextlib.nullcontext():
            inside.set()
            time.sleep(0.3)  # placing the take's files
            answers.append(store.update("harbour", _chapter("late"), coalesce=True)[0])

    thread = threading.Thread(target=filing)
    thread.start()
    inside.wait(10)
    first, _ = store.update("harbour", _chapter("early"), coalesce=True)
    thread.join(10)
    return first.version, answers[0].version


def test_a_write_waits_for_the_change_announced_as_coming(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take being filed announces its change: a write that starts meanwhile waits for it,
    so the two share one write; without the announcement they are written one by one."""
    monkeypatch.setattr(manifest, "LINGER", 30.0)  # the wait ends when the change comes
    for announced in (True, False):
        before = core.projects.get("harbour").version
        versions = _written_beside(core.manifests, announced)
        project = core.projects.get("harbour")
        if announced:  # one write, both callers answered with it
            assert versions == (before + 1, before + 1) == (project.version, project.version)
        else:
            assert versions == (before + 1, before + 2)
        assert [c.name for c in project.chapters][-2:] == ["early", "late"]
        core.manifests.update("harbour", lambda p: p.chapters.clear())


def test_a_change_announced_and_given_up_holds_no_write_back(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A take that fails while being filed withdraws its change: a write waiting for it goes
    on at once, not after the longest wait."""
    monkeypatch.setattr(manifest, "LINGER", 30.0)
    store = core.manifests
    inside, leave = threading.Event(), threading.Event()

    def failing() -> None:
        with contextlib.suppress(RuntimeError), store.coming("harbour"):
            inside.set()
            leave.wait(10)
            raise RuntimeError("the pipeline's output is missing")

    thread = threading.Thread(target=failing)
    thread.start()
    inside.wait(10)
    threading.Timer(0.3, leave.set).start()
    started = time.monotonic()
    project, _ = store.update("harbour", _chapter("alone"), coalesce=True)
    thread.join(10)
    assert time.monotonic() - started < 10  # not the 30 s bound
    assert [c.name for c in project.chapters] == ["alone"]
    assert core.projects.get("harbour").version == project.version


def test_new_ids_are_drawn_again_until_none_is_taken(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drawn id that a node of the project has (any kind, any depth), or two equal ids in
    one draw, make the whole draw go again."""
    project = core.projects.get("harbour")
    shot = _shot_with_take(project)
    take = project.chapters[0].scenes[0].shots[0].takes[0].id
    scene = project.chapters[0].scenes[0].id
    draws = iter(
        [
            *(take.removeprefix("tk_"), "aaaa0001"),  # the first is the take's
            *(scene.removeprefix("sc_"), "aaaa0002"),  # another kind: no clash for a take
            *("aaaa0003", "aaaa0003"),  # the same twice in one draw
            *("aaaa0004", "aaaa0005"),
        ]
    )
    monkeypatch.setattr(hierarchy.secrets, "token_hex", lambda n: next(draws))
    assert set(hierarchy.new_ids(project, "take", 2)) == {f"tk_{scene[3:]}", "tk_aaaa0002"}
    assert set(hierarchy.new_ids(project, "take", 2)) == {"tk_aaaa0004", "tk_aaaa0005"}
    assert shot == project.chapters[0].scenes[0].shots[0].id


def test_new_ids_see_every_take_of_a_snapshot_and_of_a_change_under_way(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ids under a scene of a shared snapshot are kept while the scene is the same object:
    a take of an unchanged scene, a take the last version added, and a take added earlier in
    the same lazy change (its copy of the scene) all make a draw go again."""

    def two_scenes(p: Project) -> str:
        ch = hierarchy.add(p, NodeCreate(kind="chapter", name="A")).node.id
        first = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="B")).node.id
        second = hierarchy.add(p, NodeCreate(kind="scene", parent_id=ch, name="C")).node.id
        shots = [
            hierarchy.add(p, NodeCreate(kind="shot", parent_id=sc, name="D")).node.id
            for sc in (first, second)
        ]
        takes.add_generating(
            p, shots[1], pipeline="still", parameters={}, seed=1, task_id="t", tier="standard"
        )
        return shots[0]

    _, shot_a = core.manifests.update("harbour", two_scenes)
    snapshot = core.manifests.read("harbour")
    old = snapshot.chapters[0].scenes[1].shots[0].takes[0].id
    draws = iter([old.removeprefix("tk_"), "bbbb0001"])
    # hierarchy's draws only (the writes name their temp files with `secrets` too)
    monkeypatch.setattr(hierarchy, "secrets", SimpleNamespace(token_hex=lambda n: next(draws)))
    assert hierarchy.new_ids(snapshot, "take", 1, shared=True) == ["tk_bbbb0001"]

    def add(p: Project, shot: str, task: str) -> Take:
        return takes.add_generating(
            p, shot, pipeline="still", parameters={}, seed=1, task_id=task, tier="standard"
        )

    draws = iter(["cccc0001"])
    _, made = core.manifests.update("harbour", lambda p: add(p, shot_a, "u"), lazy=True)
    assert made.id == "tk_cccc0001"
    later = core.manifests.read("harbour")
    unchanged = later.chapters[0].scenes[1]
    assert unchanged is snapshot.chapters[0].scenes[1]  # shared by both versions: ids kept
    assert hierarchy._scene_ids["harbour", unchanged.id][0] is unchanged
    draws = iter(["cccc0001", old.removeprefix("tk_"), "cccc0002"])
    assert hierarchy.new_ids(later, "take", 1, shared=True) == ["tk_cccc0002"]

    def two(p: Project) -> list[str]:
        return [add(p, shot_a, "v").id, add(p, shot_a, "w").id]

    draws = iter(["dddd0001", "dddd0001", "cccc0001", old.removeprefix("tk_"), "dddd0002"])
    _, ids = core.manifests.update("harbour", two, lazy=True)
    assert ids == ["tk_dddd0001", "tk_dddd0002"]


def test_a_shot_whose_takes_changed_is_written_from_its_last_text_byte_exact(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that completes takes of a long shot (the first, some in the middle, the last)
    and queues more after them makes the shot's text from its last text around the new takes'
    texts; the bytes are what a fresh writer makes of the same project. A change of the shot's
    own fields (its selected take, its name) is encoded whole."""
    shot = core.manifests.update("harbour", lambda p: _film(p, 3, lambda n: {"n": n}))[1][1]

    def add(p: Project, n: int) -> None:
        takes.add_generating(
            p, shot, pipeline="still", parameters={"n": n}, seed=n, task_id=f"t{n}", tier="low"
        )

    core.manifests.update("harbour", lambda p: [add(p, n) for n in range(40)])
    ids = [t.id for t in _node(core.projects.get("harbour"), shot).takes]
    path = core.workspace.project_dir("harbour") / "project.json"
    spliced: list[bool] = []
    splice = manifest._spliced
    monkeypatch.setattr(
        manifest,
        "_spliced",
        lambda *a: spliced.append(True) or splice(*a),  # type: ignore[func-returns-value]
    )
    changes: list[Callable[[Project], Any]] = [
        lambda p: takes.complete(p, ids[20], "c.png"),  # the shot's selected take: encoded
        lambda p: takes.complete(p, ids[0], "a.png"),
        lambda p: [takes.complete(p, ids[i], f"{i}.png") for i in (7, 8, 30, 40)],
        lambda p: [takes.complete(p, ids[12], "b.png"), add(p, 100), add(p, 101)],
        lambda p: [add(p, 102)],
        lambda p: setattr(_node(p, shot), "name", "Renamed"),
    ]
    for step, change in enumerate(changes):
        spliced.clear()
        core.manifests.update("harbour", change)
        written = path.read_bytes()
        assert written == Serialiser().dump(Project.model_validate_json(written)), step
        assert spliced == ([True] if 0 < step < 5 else []), step
    listed = _node(core.projects.get("harbour"), shot).takes
    assert len(listed) == 44 and [t.file for t in listed[:2]] == ["a.png", None]


@pytest.mark.parametrize("coalesce", [False, True])
def test_a_write_syncs_its_folder_outside_the_lock_and_answers_after_that(
    core: StudioCore, monkeypatch: pytest.MonkeyPatch, coalesce: bool
) -> None:
    """The folder's fsync (which makes the rename durable) runs once the project's lock is
    free, so the next writer need not wait for it; the write is answered only after it."""
    lock_file = core.workspace.lock_path("harbour.manifest")
    synced: list[tuple[Path, bool]] = []
    real = manifest.fsync_dir

    def fsync_dir(folder: Path) -> None:
        fd = os.open(lock_file, os.O_RDWR)
        try:  # the project's lock, taken here (another writer) without waiting
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free = True
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BlockingIOError:
            free = False
        finally:
            os.close(fd)
        real(folder)
        synced.append((folder, free))

    monkeypatch.setattr(manifest, "fsync_dir", fsync_dir)
    project, _ = core.manifests.update("harbour", _chapter("act one"), coalesce=coalesce)
    assert synced == [(core.projects.path("harbour"), True)]  # once, with the lock free
    assert core.projects.get("harbour").version == project.version
    # a change that finds nothing to do writes nothing and syncs nothing
    core.manifests.update("harbour", _unchanged, coalesce=coalesce)
    assert len(synced) == 1


def _unchanged(project: Project) -> None:
    raise manifest.Unchanged()


def test_a_manifest_indented_throughout_reads_the_same_and_is_written_a_take_a_line(
    core: StudioCore,
) -> None:
    """A manifest written before takes were a line each (or by an editor, indented
    throughout) is read as the same project; the next write puts each take on one line, and
    the file is then a quarter smaller, even with one take a shot."""
    core.manifests.update("harbour", lambda p: _film(p, 40, lambda n: {"prompt": f"sea {n}"}))
    path = core.workspace.project_dir("harbour") / "project.json"
    before = core.projects.get("harbour")
    indented = orjson.dumps(orjson.loads(path.read_bytes()), option=orjson.OPT_INDENT_2) + b"\n"
    atomic_write(path, indented)
    assert core.projects.get("harbour").model_dump() == before.model_dump()
    core.manifests.update("harbour", lambda p: setattr(p, "name", "Harbour"))
    written = path.read_bytes()
    assert len(written) < len(indented) * 3 / 4
    lines = written.decode().splitlines()
    take_lines = [line for line in lines if line.lstrip().startswith('{"id":"tk_')]
    assert len(take_lines) == sum(len(s.takes) for _, s in _shots_of(before))
    again = core.projects.get("harbour")
    assert again.name == "Harbour"
    assert [t.model_dump() for _, s in _shots_of(again) for t in s.takes] == [
        t.model_dump() for _, s in _shots_of(before) for t in s.takes
    ]
