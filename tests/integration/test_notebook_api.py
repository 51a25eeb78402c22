"""Scripted production with `gms_lab.Studio`: the same services as the server, a real worker."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from gms_lab import Studio
from gms_lab.core.errors import InvalidInput, NotFound, ProjectExists
from gms_lab.models import TaskRecord
from gms_lab.notebook import NoWorkerRunning, TaskError
from gms_lab.notebook.exports import Export
from tests.services import REPO, TEST_PIPELINES, Worker


@pytest.fixture
def studio(worker: Worker, redis_url: str, task_workspace: Path) -> Studio:
    return Studio(
        task_workspace,
        broker=redis_url,
        pipelines_path=[REPO / "pipelines", TEST_PIPELINES],
    )


def test_a_film_scripted_end_to_end(studio: Studio, tmp_path: Path) -> None:
    name = f"Harbour {secrets.token_hex(3)}"
    assert studio.project(name) is None
    film = studio.create_project(name, quality="low")
    assert studio.project(name).id == film.id  # type: ignore[union-attr]
    with pytest.raises(ProjectExists):
        studio.create_project(name)
    assert studio.create_project(name, exist_ok=True).id == film.id

    shot = film.chapter("Act 1").scene("Dawn").shot("Wide", duration=3.0)
    again = film.chapter("Act 1").scene("Dawn").shot("Wide", duration=2.5)
    assert again.id == shot.id and shot.duration == 2.5  # get or create, never twice
    close = film.chapter("Act 1").scene("Dawn").shot("Close", lens="85mm")
    assert [s.name for s in film.shots()] == ["Wide", "Close"]
    assert close.shot.properties == {"lens": "85mm"}

    hero = tmp_path / "hero.png"
    Image.new("RGB", (300, 200), "crimson").save(hero)
    asset = film.assets.add("characters", hero)
    assert asset.path == "01_Assets/Characters/hero.png"
    assert [a.name for a in film.assets.list("characters")] == ["hero.png"]
    with pytest.raises(InvalidInput):
        film.assets.add("villains", hero)

    task = shot.generate("still", prompt="fog over the harbour", seed=7, width=320, height=180)
    take = task.result(timeout=60)
    assert take.status == "completed" and take.seed == 7
    assert take.file is not None and Image.open(take.file).size == (160, 90)  # low tier
    assert "image/png;base64" in take._repr_mimebundle_()["text/html"]
    second = shot.generate("still", prompt="fog over the harbour", seed=8).result(timeout=60)
    assert [t.id for t in shot.takes] == [take.id, second.id]
    assert shot.selected == take  # the first take is selected until one is picked
    shot.select(second)
    assert shot.selected == second
    sha = film.commit("Dawn blocking")
    assert sha
    log = subprocess.run(
        ["git", "log", "--format=%s|%an", "-3"],
        cwd=film.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Dawn blocking|" in log

    # many at once, one wait
    prompts = ["gulls over the pier", "a lighthouse at dusk"]
    batch = [s.generate("still", prompt=p) for s, p in zip(film.shots(), prompts, strict=True)]
    assert studio.wait(batch, timeout=90)
    assert [t.status.value for t in batch] == ["completed", "completed"]

    mp4 = film.export_animatic(scene="Dawn", timeout=120)
    assert mp4 == film.path / "06_Exports" / "animatic-dawn.mp4" and mp4.stat().st_size > 1000

    # the hand-off to an editor: the same exports as the panels' and the API's
    boards = film.export("boards", "Dawn", timeout=120)
    assert isinstance(boards, Export) and boards.path == film.path / "06_Exports/boards-dawn.pdf"
    assert [f.suffix for f in boards.files] == [".pdf", ".png"] and boards.gaps == []
    assert "image/png;base64" in boards._repr_mimebundle_()["text/html"]
    film.chapter("Act 2").scene("Night").shot("Lamps", duration=1.0)  # nothing generated yet
    edl = film.export("edl", timeout=60)
    assert isinstance(edl, Export) and edl.gaps == ["Lamps"]
    assert "Lamps" in edl.path.read_text()  # a named black event where the picture will go
    assert [e.kind for e in film.exports()][:3] == ["edl", "boards", "animatic"]
    with pytest.raises(NotFound, match="No chapter or scene 'Dusk'"):
        film.export("otio", "Dusk")

    # the manifest saw all of it, through the one writer
    manifest = json.loads((film.path / "project.json").read_text())
    shots = manifest["chapters"][0]["scenes"][0]["shots"]
    assert [len(s["takes"]) for s in shots] == [3, 1]


def test_errors_say_what_to_do(studio: Studio, tmp_path: Path) -> None:
    film = studio.create_project(f"Errors {secrets.token_hex(3)}")
    shot = film.chapter("A").scene("B").shot("C")
    with pytest.raises(NotFound, match="Unknown pipeline 'dream'"):
        shot.generate("dream")
    with pytest.raises(InvalidInput, match="steps"):
        shot.generate("still", steps="many")
    failed = shot.generate("crash")
    with pytest.raises(TaskError, match="exited with code 3"):
        failed.result(timeout=60)
    with pytest.raises(NotFound):
        film.scene("Nope")

    # a workspace whose Redis has no worker
    lonely = Studio(tmp_path / "other", broker=studio.ctx.broker_url + "5")
    other = lonely.create_project("Lonely").chapter("A").scene("B").shot("C")
    with pytest.raises(NoWorkerRunning, match=r"celery -A gms_lab\.tasks\.worker worker"):
        other.generate("still")
    # no broker at all: projects still work, generating explains how to start one
    offline = Studio(tmp_path / "offline")
    shot = offline.create_project("Offline").chapter("A").scene("B").shot("C")
    with pytest.raises(Exception, match="make dev"):
        shot.generate("still")


async def test_await_a_task(studio: Studio) -> None:
    film = studio.create_project(f"Await {secrets.token_hex(3)}")
    shot = film.chapter("A").scene("B").shot("C")
    take = await shot.generate("slow", seconds=0.3)
    assert take.status == "completed"
    takes = await studio.gather([shot.generate("slow"), shot.generate("slow")])
    assert len({t.id for t in takes}) == 2


def test_a_films_task_history_reads_every_page(studio: Studio) -> None:
    """`film.tasks()` follows the REST pages: newest first, all of them when asked."""
    film = studio.create_project(f"History {secrets.token_hex(3)}")
    made = [
        studio.ctx.records.create(
            TaskRecord(task_id=f"t{n:04d}", project_id=film.id, node_id="sh", pipeline="still")
        )
        for n in range(620)
    ]
    newest_first = [r.task_id for r in reversed(made)]
    assert [t.task_id for t in film.tasks()] == newest_first[:100]
    assert [t.task_id for t in film.tasks(limit=None)] == newest_first


def test_a_notebook_deletes_and_restores_through_the_trash(studio: Studio, tmp_path: Path) -> None:
    film = studio.create_project(f"Quay {secrets.token_hex(3)}")
    scene = film.chapter("Act 1").scene("Dawn")
    shot = scene.shot("Wide")
    take = shot.generate("still", prompt="gulls", seed=3).result(timeout=60)
    file = take.file
    assert file is not None and file.is_file()
    hero = tmp_path / "hero.png"
    Image.new("RGB", (64, 64), "teal").save(hero)
    asset = film.assets.add("characters", hero)

    bin_ = studio.trash(film.id)
    assert len(bin_) == 0 and "empty" in bin_._repr_mimebundle_()["text/html"]
    gone_take = take.delete()
    assert gone_take.kind == "take" and not file.exists()
    gone_asset = film.assets.delete(asset)
    assert gone_asset.kind == "asset" and film.assets.list("characters") == []
    gone_shot = shot.delete()
    assert [i.id for i in bin_] == [gone_shot.id, gone_asset.id, gone_take.id]
    assert gone_shot.name == "Wide" in repr(bin_)
    assert "hero.png" in bin_._repr_mimebundle_()["text/html"]

    bin_.restore(gone_shot)
    bin_.restore(gone_take.id)
    bin_.restore(gone_asset)
    assert [t.id for t in film.scene("Dawn").shots()[0].takes] == [take.id]
    assert file.is_file() and [a.name for a in film.assets.list("characters")] == ["hero.png"]

    item = film.delete()
    assert item.kind == "project" and studio.project(film.id) is None
    assert item.id in [i.id for i in studio.trash()]
    studio.trash().restore(item)
    assert studio.project(film.id) is not None
    film.assets.delete("01_Assets/Characters/hero.png")
    assert len(studio.trash(film.id).empty()) == 1 and len(studio.trash(film.id)) == 0


def test_a_notebook_shot_carries_its_prompt_and_a_scene_is_generated_at_once(
    studio: Studio, tmp_path: Path
) -> None:
    film = studio.create_project(f"Pier {secrets.token_hex(3)}", quality="low")
    dawn = film.chapter("Act 1").scene("Dawn")
    wide = dawn.shot("Wide", prompt="fog over the pier", style="35mm film")
    gulls = dawn.shot("Gulls", prompt="gulls over the sea")
    assert wide.prompt == "fog over the pier" and wide.shot.style == "35mm film"
    plate = tmp_path / "plate.png"
    Image.new("RGB", (320, 90), "navy").save(plate)
    wide.add_reference(film.assets.add("locations", plate))
    assert wide.references == ["01_Assets/Locations/plate.png"]

    # the shot's own prompt and style when generate() is given none
    take = wide.generate("still", seed=3).result(timeout=60)
    assert take.parameters["prompt"] == "fog over the pier, 35mm film"
    assert take.label == "Take 1" and repr(take).startswith("<Take 1 ")
    sidecar = json.loads(take.file.with_suffix(".json").read_text())  # type: ignore[union-attr]
    assert sidecar["references"] == ["01_Assets/Locations/plate.png"]

    # one take per shot of the scene, each from its own prompt
    tasks = dawn.generate("still")
    assert studio.wait(tasks, timeout=90)
    made = [task.result(timeout=5) for task in tasks]
    assert [t.parameters["prompt"] for t in made] == [
        "fog over the pier, 35mm film",
        "gulls over the sea",
    ]
    assert [t.label for t in made] == ["Take 2", "Take 1"]
    assert "Take 2" in wide._repr_mimebundle_()["text/html"]
    assert gulls.takes[0].label == "Take 1"

    # several takes of a shot at once, the seed going up from the one given
    variations = gulls.generate_takes(3, "still", seed=40)
    assert studio.wait(variations, timeout=90)
    takes = [task.result(timeout=5) for task in variations]
    assert [t.parameters["seed"] for t in takes] == [40, 41, 42]
    assert [t.label for t in gulls.takes] == ["Take 1", "Take 2", "Take 3", "Take 4"]
    assert [t.id for t in gulls.takes[1:]] == [t.id for t in takes]
