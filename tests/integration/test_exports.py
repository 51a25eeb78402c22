"""An editor receives the film: animatic, OTIO, EDL, FCP XML and boards of the chosen takes.

Real Redis, a real Celery worker, a real Jupyter server, pipelines as real local processes; each
export is read back with OpenTimelineIO (the EDL and XML through their own adapters) or a PDF
reader and checked against the project.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import opentimelineio as otio
import pytest
from PIL import Image
from pypdf import PdfReader

from tests.conftest import Api
from tests.integration.test_generation import open_socket, submit, wait_finished

pytestmark = pytest.mark.usefixtures("worker")
FPS = 25


@pytest.fixture
def workspace(task_workspace: Path) -> Path:
    """These tests share the worker's workspace; each makes its own project."""
    return task_workspace


async def add(api: Api, pid: str, kind: str, parent: str | None, name: str, **more: Any) -> str:
    status, node = await api.call(
        "POST", f"projects/{pid}/nodes", {"kind": kind, "parentId": parent, "name": name, **more}
    )
    assert status == 201, node
    return str(node["id"])


async def take(api: Api, pid: str, shot: str, pipeline: str, **params: Any) -> None:
    record = await wait_finished(api, await submit(api, pid, shot, pipeline, **params), 90)
    assert record["status"] == "completed", (record["error"], record)


async def harbour(api: Api) -> dict[str, Any]:
    """A film of two chapters at 25 fps, 320x180.

    Act 1 / Dawn: Quay (1 s, a still), Gulls (0.6 s, no take yet), Tide (1 s, a 2 s video take);
    Act 2 / Night: Lamps (0.8 s, a still).
    """
    status, project = await api.call(
        "POST", "projects", {"name": f"Harbour {secrets.token_hex(3)}", "quality": "low"}
    )
    assert status == 201, project
    pid = project["id"]
    settings = {"fps": FPS, "resolution": {"width": 320, "height": 180}}
    assert (await api.call("PATCH", f"projects/{pid}", {"settings": settings}))[0] == 200
    act1 = await add(api, pid, "chapter", None, "Act 1")
    dawn = await add(api, pid, "scene", act1, "Dawn")
    quay = await add(
        api, pid, "shot", dawn, "Quay", duration=1.0, properties={"notes": "slow push-in"}
    )
    gulls = await add(api, pid, "shot", dawn, "Gulls", duration=0.6)
    tide = await add(api, pid, "shot", dawn, "Tide", duration=1.0)
    act2 = await add(api, pid, "chapter", None, "Act 2")
    night = await add(api, pid, "scene", act2, "Night")
    lamps = await add(api, pid, "shot", night, "Lamps", duration=0.8)
    await take(api, pid, quay, "still", prompt="a quay at dawn", width=320, height=180)
    await take(api, pid, tide, "clip", seconds=2.0, prompt="the tide turns")
    await take(api, pid, lamps, "still", prompt="lamps on the pier", width=320, height=180)
    status, manifest = await api.call("GET", f"projects/{pid}")
    return {
        "id": pid,
        "name": manifest["name"],
        "manifest": manifest,
        "dawn": dawn,
        "act2": act2,
        "shots": {"Quay": quay, "Gulls": gulls, "Tide": tide, "Lamps": lamps},
    }


def takes_by_shot(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each shot's selected take, by shot name."""
    chosen = {}
    for chapter in manifest["chapters"]:
        for scene in chapter["scenes"]:
            for shot in scene["shots"]:
                for t in shot["takes"]:
                    if t["id"] == shot["selectedTake"]:
                        chosen[shot["name"]] = t
    return chosen


async def export(api: Api, pid: str, kind: str, scope: str | None) -> dict[str, Any]:
    status, body = await api.call("POST", f"projects/{pid}/exports", {"kind": kind, "scope": scope})
    assert status == 202, body
    record = await wait_finished(api, body["taskId"], timeout=120)
    assert record["status"] == "completed", (record["error"], record)
    return dict(record["result"])


def check_cut(
    timeline: otio.schema.Timeline, film: dict[str, Any], gap: type, gap_kind: str | None
) -> None:
    """The timeline of Dawn: Quay, Gulls (no picture), Tide (the video's own 2 s), at 25 fps."""
    chosen = takes_by_shot(film["manifest"])
    items = list(timeline.tracks[0])
    assert [item.name for item in items] == ["Quay", "Gulls", "Tide"]
    assert [item.source_range.duration.to_frames() for item in items] == [25, 15, 50]
    assert {item.source_range.duration.rate for item in items} == {FPS}
    quay, gulls, tide = items
    assert isinstance(gulls, gap)
    if gap_kind is not None:  # EDL and XML hold a missing shot as a named black slug
        assert gulls.media_reference.generator_kind == gap_kind
    for clip, shot in ((quay, "Quay"), (tide, "Tide")):
        assert isinstance(clip, otio.schema.Clip)
        assert clip.media_reference.target_url == "../" + chosen[shot]["file"]
    ours = quay.metadata.get("gms")
    if ours is not None:  # the .otio keeps the studio's facts on each clip
        assert ours["shotId"] == film["shots"]["Quay"]
        assert ours["takeId"] == chosen["Quay"]["id"]
        assert ours["prompt"] == "a quay at dawn" and ours["seed"] == chosen["Quay"]["seed"]
        assert ours["tier"] == "low" and ours["notes"] == "slow push-in"
        assert gulls.metadata["gms"]["missing"] == "no selected take"


async def test_an_editor_receives_the_scene_as_otio_edl_and_xml(api: Api, workspace: Path) -> None:
    film = await harbour(api)
    pid, root = film["id"], workspace / "Projects" / film["id"]

    otio_result = await export(api, pid, "otio", film["dawn"])
    assert otio_result["outputPath"] == "06_Exports/timeline-dawn.otio"
    info = otio_result["export"]
    assert (info["kind"], info["scope"], info["scopeKind"], info["scopeName"]) == (
        "otio",
        film["dawn"],
        "scene",
        "Dawn",
    )
    assert [g["name"] for g in info["gaps"]] == ["Gulls"] and info["shots"] == 3
    timeline = otio.adapters.read_from_file(str(root / otio_result["outputPath"]))
    assert timeline.name.endswith("— Dawn")
    check_cut(timeline, film, otio.schema.Gap, None)

    edl = await export(api, pid, "edl", film["dawn"])
    assert edl["outputPath"] == "06_Exports/timeline-dawn.edl"
    text = (root / edl["outputPath"]).read_text()
    assert re.search(r"^002  BL ", text, re.M)  # the missing shot is black, and named
    read = otio.adapters.read_from_file(
        str(root / edl["outputPath"]), adapter_name="cmx_3600", rate=FPS
    )
    check_cut(read, film, otio.schema.Clip, "black")

    xml = await export(api, pid, "fcpxml", film["dawn"])
    assert xml["outputPath"] == "06_Exports/timeline-dawn.xml"
    read = otio.adapters.read_from_file(str(root / xml["outputPath"]), adapter_name="fcp_xml")
    check_cut(read, film, otio.schema.Clip, "Slug")


async def test_boards_have_one_frame_per_shot(api: Api, workspace: Path) -> None:
    film = await harbour(api)
    pid, root = film["id"], workspace / "Projects" / film["id"]

    result = await export(api, pid, "boards", None)
    assert result["outputs"] == [
        f"06_Exports/boards-{pid}.pdf",
        f"06_Exports/boards-{pid}.png",
    ]
    pdf = PdfReader(root / result["outputs"][0])
    assert len(pdf.pages) == 1  # four shots fit a page of six
    assert len(pdf.pages[0].images) == 4
    text = pdf.pages[0].extract_text()
    positions = [text.index(f"{n}  {name}") for n, name in enumerate(film["shots"], start=1)]
    assert positions == sorted(positions)  # in story order
    for words in ("a quay at dawn", "slow push-in", "no selected take", "0.6 s", "2 s"):
        assert words in text
    with Image.open(root / result["outputs"][1]) as sheet:
        assert sheet.width > 1000 and sheet.height > 200
    assert result["metadata"]["panels"] == 4 and result["metadata"]["gaps"] == 1


async def test_the_animatic_of_the_film_is_listed_with_every_export(
    api: Api, jp_ws_fetch: Any, workspace: Path
) -> None:
    film = await harbour(api)
    pid, root = film["id"], workspace / "Projects" / film["id"]
    socket = await open_socket(jp_ws_fetch, pid)

    status, body = await api.call("POST", f"projects/{pid}/exports", {"kind": "animatic"})
    assert status == 202, body
    done = await socket.until("task_success", timeout=120, taskId=body["taskId"])
    news = done["result"]
    assert news["export"]["kind"] == "animatic" and news["export"]["scopeName"] == film["name"]
    assert news["takeId"] is None  # the news names the export, not a take
    animatic = (await wait_finished(api, body["taskId"]))["result"]
    assert animatic["outputPath"] == f"06_Exports/animatic-{pid}.mp4"
    seconds = 1.0 + 0.6 + 2.0 + 0.8  # Tide keeps its video's own two seconds
    assert animatic["metadata"]["duration"] == pytest.approx(seconds)
    assert animatic["metadata"]["gaps"] == 1
    probe = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(root / animatic["outputPath"])],
        capture_output=True,
        text=True,
        check=False,
    ).stderr
    assert "Duration: 00:00:04.40" in probe and "25 fps" in probe
    chapter = await export(api, pid, "otio", film["act2"])
    assert chapter["export"]["scopeKind"] == "chapter"

    status, listing = await api.call("GET", f"projects/{pid}/exports")
    assert status == 200
    rows = listing["exports"]
    assert [(r["kind"], r["path"]) for r in rows] == [
        ("otio", "06_Exports/timeline-act-2.otio"),
        ("animatic", f"06_Exports/animatic-{pid}.mp4"),
    ]
    film_row = rows[1]
    assert film_row["scope"] is None and film_row["scopeKind"] == "film"
    assert film_row["size"] == (root / film_row["path"]).stat().st_size
    assert [g["name"] for g in film_row["gaps"]] == ["Gulls"]
    assert film_row["created"] and film_row["taskId"]
    status, data = await api.call("GET", film_row["url"].removeprefix("gms/api/"))
    assert status == 200 and data[4:8] == b"ftyp"  # downloadable, an MP4

    # a file dropped into the folder by hand is listed too, as what its name says
    (root / "06_Exports" / "notes.txt").write_text("for the editor")
    status, listing = await api.call("GET", f"projects/{pid}/exports")
    hand = next(r for r in listing["exports"] if r["path"] == "06_Exports/notes.txt")
    assert hand["kind"] == "other" and hand["scope"] is None


async def test_exports_refuse_what_they_cannot_make(api: Api, workspace: Path) -> None:
    status, project = await api.call(
        "POST", "projects", {"name": f"Refusals {secrets.token_hex(3)}", "quality": "low"}
    )
    pid = project["id"]
    act = await add(api, pid, "chapter", None, "Act 1")
    empty = await add(api, pid, "scene", act, "Empty")
    shot = await add(api, pid, "shot", await add(api, pid, "scene", act, "Dawn"), "Quay")

    async def refused(body: dict[str, Any], project_id: str = pid) -> tuple[int, str]:
        status, answer = await api.call("POST", f"projects/{project_id}/exports", body)
        return status, answer["error"]["message"]

    status, message = await refused({"kind": "mov", "scope": None})
    assert status == 400 and "kind" in message
    status, message = await refused({"kind": "otio", "scope": shot})
    assert status == 400 and "not a shot" in message
    status, message = await refused({"kind": "otio", "scope": empty})
    assert status == 400 and "no shots" in message
    status, message = await refused({"kind": "animatic", "scope": None})
    assert status == 400 and "selected take" in message
    status, _ = await refused({"kind": "otio", "scope": "sc_nothere"})
    assert status == 404
    status, _ = await refused({"kind": "otio"}, "no-such-film")
    assert status == 404
    await api.call("PATCH", f"projects/{pid}", {"settings": {"fps": 12}})
    status, message = await refused({"kind": "edl", "scope": None})
    assert status == 400 and "SMPTE" in message and "12 fps" in message
    otio_ok = await export(api, pid, "otio", None)  # an .otio keeps any rate, gaps and all
    assert otio_ok["export"]["fps"] == 12 and len(otio_ok["export"]["gaps"]) == 1
    assert (await api.call("GET", f"projects/{pid}/exports"))[1]["exports"][0]["kind"] == "otio"
    assert not list((workspace / "Projects" / pid / "06_Exports").glob("*.edl"))
