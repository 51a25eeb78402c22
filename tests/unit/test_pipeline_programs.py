"""The pipeline programs in pipelines/, driven as real processes over the JSON-lines protocol.

Each test starts a pipeline the way the local runner does (working dir pipelines/, the argv from
its pipeline.toml), sends jobs on stdin and reads the events a user's progress bar would show.
"""

from __future__ import annotations

import io
import json
import math
import os
import queue
import re
import struct
import subprocess
import sys
import threading
import tomllib
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import imageio_ffmpeg
import pytest
from PIL import Image, ImageChops, ImageStat

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
NAMES = ["still", "animatic", "thumbnail", "timeline", "boards"]
EVENT_TIMEOUT = 30  # seconds to wait for one event before calling a pipeline stuck

MANIFEST_KEYS = {
    "id": str,
    "name": str,
    "version": str,
    "media": str,
    "description": str,
    "entry": list,
    "timeout": int,
    "network": bool,
    "warm": bool,
    "parameters": dict,
    "tiers": dict,
}
TIER_KEYS = {
    "pipelineId": str,
    "image": str,
    "targetVram": int,
    "memory": str,
    "gpu": bool,
    "optimizations": list,
    "parameters": dict,
}
PARAMETER_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
}


def manifest(name: str) -> dict[str, Any]:
    """A pipeline's pipeline.toml, parsed."""
    with (PIPELINES / name / "pipeline.toml").open("rb") as file:
        return tomllib.load(file)


def job(
    name: str, job_id: str, parameters: dict[str, Any], tier: str, project: Path
) -> dict[str, Any]:
    """A job line as the runner writes it: defaults < tier parameters < user parameters."""
    declared = manifest(name)
    chosen = declared["tiers"][tier]
    merged = {key: spec["default"] for key, spec in declared["parameters"].items()}
    merged |= chosen.get("parameters", {}) | parameters
    output_dir = project / "renders" / job_id
    output_dir.mkdir(parents=True)
    return {
        "jobId": job_id,
        "parameters": merged,
        "tier": {
            "name": tier,
            "pipelineId": chosen["pipelineId"],
            "targetVram": chosen["targetVram"],
            "optimizations": chosen["optimizations"],
            "parameters": chosen.get("parameters", {}),
        },
        "outputDir": str(output_dir),
        "projectDir": str(project),
    }


def protocol_module() -> Any:
    """`pipelines/gms_pipeline.py`, the protocol module pipelines import, imported here."""
    sys.path.insert(0, str(PIPELINES))
    try:
        import gms_pipeline
    finally:
        sys.path.remove(str(PIPELINES))
    return gms_pipeline


class PipelineProcess:
    """One warm pipeline process, fed job lines on stdin, answering with events on stdout."""

    def __init__(self, name: str, env: dict[str, str] | None = None) -> None:
        self.name = name
        argv = [sys.executable if part == "python" else part for part in manifest(name)["entry"]]
        self.process = subprocess.Popen(
            argv,
            cwd=PIPELINES,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        assert self.process.stdout is not None and self.process.stderr is not None
        threading.Thread(target=self._pump, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(
            target=lambda: self.stderr.extend(self.process.stderr or []), daemon=True
        ).start()

    def _pump(self, stdout: IO[str]) -> None:
        for line in stdout:
            self.lines.put(line)
        self.lines.put(None)

    @property
    def alive(self) -> bool:
        """Whether the process is still up, waiting for the next job."""
        return self.process.poll() is None

    def send(self, line: str) -> None:
        """Write one raw line to the pipeline's stdin."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def next_event(self) -> dict[str, Any]:
        """The next event on stdout; every stdout line must be one JSON object."""
        line = self.lines.get(timeout=EVENT_TIMEOUT)
        assert line is not None, f"{self.name} exited: {''.join(self.stderr[-20:])}"
        event = json.loads(line)
        assert isinstance(event, dict) and "jobId" in event and "event" in event, line
        return event

    def run(self, job_line: dict[str, Any]) -> list[dict[str, Any]]:
        """Send a job and collect its events up to and including its result or error."""
        self.send(json.dumps(job_line))
        events = [self.next_event()]
        while events[-1]["event"] == "progress":
            events.append(self.next_event())
        assert all(event["jobId"] == job_line["jobId"] for event in events)
        return events

    def close(self) -> int:
        """Close stdin, as the runner does when retiring a warm process; return the exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=EVENT_TIMEOUT)


def finished(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The result of a job whose progress only went forward; fails on an error event."""
    *steps, last = events
    assert last["event"] == "result", last
    fractions = [event["progress"] for event in steps]
    assert all(event["event"] == "progress" and event["step"] for event in steps)
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    return last


def failed(events: list[dict[str, Any]]) -> str:
    """The message of a job that ended in an error event."""
    assert events[-1]["event"] == "error", events[-1]
    return str(events[-1]["message"])


def probe(video: Path) -> tuple[str, int]:
    """ffmpeg's description of a video, and the number of frames it decodes from it."""
    decoded = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(video), "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    frames = re.findall(r"frame=\s*(\d+)", decoded)
    return decoded, int(frames[-1])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("project")


@pytest.fixture(scope="module")
def still() -> Iterator[PipelineProcess]:
    process = PipelineProcess("still")
    yield process
    assert process.close() == 0


@pytest.fixture(scope="module")
def animatic() -> Iterator[PipelineProcess]:
    process = PipelineProcess("animatic")
    yield process
    assert process.close() == 0


@pytest.fixture(scope="module")
def thumbnail() -> Iterator[PipelineProcess]:
    process = PipelineProcess("thumbnail")
    yield process
    assert process.close() == 0


@pytest.fixture(scope="module")
def storyboard(still: PipelineProcess, project: Path) -> list[str]:
    """Two stills painted by the still pipeline, one landscape and one portrait."""
    shots = [("shot-1", "harbour at dusk", 320, 180), ("shot-2", "pines in the fog", 90, 160)]
    for job_id, prompt, width, height in shots:
        parameters = {"prompt": prompt, "seed": 1, "width": width, "height": height}
        finished(still.run(job("still", job_id, parameters, "standard", project)))
    return [f"renders/{job_id}/take.png" for job_id, *_ in shots]


@pytest.fixture(scope="module")
def animatic_take(animatic: PipelineProcess, storyboard: list[str], project: Path) -> Path:
    """The animatic of the storyboard: 1 s of the first still, then 0.5 s of the second."""
    clips = [{"path": storyboard[0], "duration": 1.0}, {"path": storyboard[1], "duration": 0.5}]
    parameters = {"clips": clips, "fps": 12, "width": 160, "height": 90}
    result = finished(animatic.run(job("animatic", "cut-1", parameters, "low", project)))
    assert result["outputs"] == ["animatic.mp4"]
    meta = result["metadata"]
    facts = (meta["duration"], meta["fps"], meta["width"], meta["height"], meta["clipCount"])
    assert facts == (1.5, 12, 160, 90, 2)
    return project / "renders" / "cut-1" / "animatic.mp4"


@pytest.mark.parametrize("name", NAMES)
def test_each_pipeline_declares_what_the_studio_needs(name: str) -> None:
    declared = manifest(name)
    for key, kind in MANIFEST_KEYS.items():
        assert isinstance(declared.get(key), kind), key
    assert declared["id"] == name
    assert declared["media"] in {"image", "video", "audio"}
    assert declared["entry"][0] == "python" and (PIPELINES / declared["entry"][-1]).is_file()
    for key, spec in declared["parameters"].items():
        default = spec["default"]
        assert isinstance(default, PARAMETER_TYPES[spec["type"]]), key
        assert spec["type"] == "boolean" or not isinstance(default, bool), key
        assert spec.get("minimum", default) <= default <= spec.get("maximum", default), key
        assert default in spec.get("enum", [default]), key
    assert set(declared["tiers"]) == {"low", "standard", "high"}
    for tier in declared["tiers"].values():
        for key, kind in TIER_KEYS.items():
            assert isinstance(tier.get(key), kind), key
        for key, value in tier["parameters"].items():
            spec = declared["parameters"][key]  # a tier only sets declared parameters
            assert isinstance(value, PARAMETER_TYPES[spec["type"]]), key
            assert spec.get("minimum", value) <= value <= spec.get("maximum", value), key
            assert value in spec.get("enum", [value]), key

    dockerfile = (PIPELINES / name / "Dockerfile").read_text()
    assert "ARG BASE=gms-pipeline-base:1" in dockerfile and "FROM ${BASE}" in dockerfile
    assert "WORKDIR /pipelines" in dockerfile
    entrypoint = re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.MULTILINE)
    assert entrypoint and json.loads(entrypoint.group(1)) == declared["entry"]
    user = re.search(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in {"0", "root"}


def test_the_still_pipeline_says_it_is_procedural() -> None:
    description = manifest("still")["description"].lower()
    assert "procedural" in description and "not a diffusion model" in description


def test_a_still_is_the_same_for_the_same_prompt_and_seed(
    still: PipelineProcess, project: Path
) -> None:
    def paint(job_id: str, seed: int) -> tuple[dict[str, Any], bytes]:
        parameters = {"prompt": "misty forest at dawn", "seed": seed, "width": 320, "height": 180}
        events = still.run(job("still", job_id, parameters, "low", project))
        result = finished(events)
        assert len(events) - 1 >= 8  # at least one progress event per painting step
        return result, (project / "renders" / job_id / "take.png").read_bytes()

    first, first_png = paint("seed-7-a", 7)
    again, again_png = paint("seed-7-b", 7)
    other, other_png = paint("seed-8", 8)

    assert still.alive  # one warm process answered all three
    assert first["outputs"] == ["take.png"]
    assert first_png == again_png and again["metadata"] == first["metadata"]
    assert other_png != first_png and other["metadata"]["seed"] == 8
    meta = first["metadata"]
    assert (meta["width"], meta["height"], meta["steps"], meta["seed"]) == (160, 90, 8, 7)
    assert (meta["prompt"], meta["tier"]) == ("misty forest at dawn", "low")


def test_a_still_follows_the_tier_and_the_prompt(still: PipelineProcess, project: Path) -> None:
    sizes = {}
    for tier in ("low", "standard", "high"):
        parameters = {"prompt": "sunset over the sea", "width": 200, "height": 120}
        result = finished(still.run(job("still", f"tier-{tier}", parameters, tier, project)))
        with Image.open(project / "renders" / f"tier-{tier}" / "take.png") as picture:
            assert picture.size == (result["metadata"]["width"], result["metadata"]["height"])
            sizes[tier] = picture.size
        assert result["metadata"]["steps"] == {"low": 8, "standard": 20, "high": 40}[tier]
        assert result["metadata"]["supersample"] == (2 if tier == "high" else 1)
    assert sizes == {"low": (100, 60), "standard": (200, 120), "high": (200, 120)}

    night = {"prompt": "night over the snowy mountains", "width": 200, "height": 120}
    finished(still.run(job("still", "night", night, "standard", project)))
    with (
        Image.open(project / "renders" / "night" / "take.png") as dark,
        Image.open(project / "renders" / "tier-standard" / "take.png") as warm,
    ):
        difference = ImageStat.Stat(ImageChops.difference(dark.convert("RGB"), warm.convert("RGB")))
        assert sum(difference.mean) / 3 > 20  # visibly another picture, not a shifted copy


def test_a_still_of_a_few_pixels_is_painted(still: PipelineProcess, project: Path) -> None:
    """The smallest frames the parameters allow (16 px at a tenth: 2 px) are painted like any
    other: a sun or moon narrower than half a pixel is left to its glow (it failed the take)."""
    for number, prompt in enumerate(("night over the sea", "noon in the hills", "a foggy dawn")):
        for width, height in ((16, 16), (16, 90), (90, 16), (40, 60)):
            job_id = f"few-pixels-{number}-{width}x{height}"
            parameters = {"prompt": prompt, "width": width, "height": height, "scale": 0.1}
            result = finished(still.run(job("still", job_id, parameters, "standard", project)))
            size = (round(width * 0.1), round(height * 0.1))
            assert (result["metadata"]["width"], result["metadata"]["height"]) == size
            with Image.open(project / "renders" / job_id / "take.png") as picture:
                assert picture.size == size
    assert still.alive


def test_a_bad_line_is_answered_and_the_process_lives_on(project: Path) -> None:
    still = PipelineProcess("still")

    still.send("this is not a job")
    malformed = still.next_event()
    assert (malformed["jobId"], malformed["event"]) == (None, "error")
    assert "malformed job line" in malformed["message"]
    still.send(json.dumps({"jobId": "no-dir", "parameters": {}}))
    homeless = still.next_event()
    assert homeless["jobId"] == "no-dir" and "outputDir" in failed([homeless])
    parameters = {"width": "wide"}
    bad = still.run(job("still", "bad-width", parameters, "low", project))
    assert failed(bad) == "parameter width must be an integer, not 'wide'"
    good = still.run(job("still", "after", {"width": 64, "height": 48}, "low", project))

    assert finished(good)["metadata"]["width"] == 32
    assert still.close() == 0


def test_an_animatic_is_a_playable_mp4_of_the_right_length(animatic_take: Path) -> None:
    description, frames = probe(animatic_take)

    assert "Video: h264" in description and "yuv420p" in description
    assert "160x90" in description and "Duration: 00:00:01.50" in description
    assert frames == 18  # 1.5 s at 12 fps


def test_an_animatic_trims_and_holds_video_clips(
    animatic: PipelineProcess, animatic_take: Path, project: Path
) -> None:
    source = str(animatic_take.relative_to(project))
    clips = [{"path": source, "duration": 2.0}, {"path": source, "duration": 0.5}]
    parameters = {"clips": clips, "fps": 12, "width": 96, "height": 96, "output": "recut.mp4"}
    result = finished(animatic.run(job("animatic", "recut", parameters, "standard", project)))

    assert result["outputs"] == ["recut.mp4"]
    description, frames = probe(project / "renders" / "recut" / "recut.mp4")
    assert "96x96" in description and frames == 30  # 1.5 s held to 2 s, then cut to 0.5 s


def test_an_animatic_names_what_is_missing(animatic: PipelineProcess, project: Path) -> None:
    missing = [{"path": "renders/shot-9/take.png", "duration": 1.0}]
    lost = animatic.run(job("animatic", "missing", {"clips": missing}, "low", project))
    empty = animatic.run(job("animatic", "empty", {"clips": []}, "low", project))

    assert "renders/shot-9/take.png" in failed(lost)
    assert "no clips" in failed(empty)
    assert not list((project / "renders" / "missing").iterdir())  # no half-written file
    assert animatic.alive


@pytest.fixture(scope="module")
def sound(project: Path) -> str:
    """A one-second tone that swells and fades, written as a WAV file in the project."""
    path = project / "sounds" / "tone.wav"
    path.parent.mkdir()
    rate = 8000
    with wave.open(str(path), "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        samples = (
            round(20000 * math.sin(i / rate * math.pi) * math.sin(i * 2 * math.pi * 220 / rate))
            for i in range(rate)
        )
        file.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return "sounds/tone.wav"


@pytest.mark.parametrize(
    ("kind", "size"), [("image", (64, 36)), ("video", (64, 36)), ("audio", (64, 32))]
)
def test_a_thumbnail_previews_images_videos_and_sounds(
    kind: str,
    size: tuple[int, int],
    thumbnail: PipelineProcess,
    storyboard: list[str],
    animatic_take: Path,
    sound: str,
    project: Path,
) -> None:
    source = {
        "image": storyboard[0],
        "video": str(animatic_take.relative_to(project)),
        "audio": sound,
    }[kind]
    parameters = {"source": source, "size": 64}
    result = finished(thumbnail.run(job("thumbnail", f"thumb-{kind}", parameters, "low", project)))

    meta = result["metadata"]
    assert (meta["sourceKind"], meta["width"], meta["height"]) == (kind, *size)
    with Image.open(project / "renders" / f"thumb-{kind}" / "thumb.png") as picture:
        assert picture.size == size
        assert ImageStat.Stat(picture.convert("L")).stddev[0] > 10  # not a blank square


def test_a_thumbnail_refuses_what_it_cannot_preview(
    thumbnail: PipelineProcess, project: Path
) -> None:
    (project / "notes.txt").write_text("not a picture")
    events = thumbnail.run(job("thumbnail", "thumb-text", {"source": "notes.txt"}, "low", project))

    assert failed(events) == "no preview for notes.txt"
    assert thumbnail.alive


def test_a_still_sends_previews_and_stops_at_a_cancel(
    still: PipelineProcess, project: Path
) -> None:
    parameters = {"prompt": "harbour at night", "seed": 3, "width": 320, "height": 180}
    events = still.run(job("still", "previews", parameters, "standard", project))
    finished(events)
    previews = [e["preview"] for e in events if e.get("preview")]
    assert 3 <= len(previews) <= 6, previews  # every few of its 20 steps
    # each under a name of its own, in its output dir: the studio moves a preview away when it
    # reads its event, maybe after the still wrote the next one as preview.jpg
    assert previews == [f"preview-{n}.jpg" for n in range(1, len(previews) + 1)], previews
    assert all((project / "renders" / "previews" / name).is_file() for name in previews)

    # a cancel stops the painting at its next step; the same process paints on
    big = {"prompt": "storm", "width": 2048, "height": 2048, "steps": 200}
    line = job("still", "cancelled", big, "standard", project)
    still.send(json.dumps(line))
    assert still.next_event()["event"] == "progress"
    still.send(json.dumps({"cancel": "cancelled"}))
    event = still.next_event()
    while event["event"] == "progress":
        event = still.next_event()
    assert event == {
        "jobId": "cancelled",
        "event": "error",
        "message": "Cancelled.",
        "cancelled": True,
    }
    assert not (project / "renders" / "cancelled" / "take.png").exists()
    after = {"prompt": "calm", "width": 64, "height": 36}
    finished(still.run(job("still", "after-cancel", after, "low", project)))
    assert still.alive


def test_each_preview_event_names_the_picture_sent_with_it(tmp_path: Path) -> None:
    """A handler writes its previews under one name; the studio moves the file an event names
    when it reads the event, which may come after the next preview was written. Each event must
    name a file that holds its own picture (they all named preview.jpg: the studio moved the
    next one, and the pipeline's check then failed the take: "the preview … was not written")."""
    gms_pipeline = protocol_module()

    def handler(job: Any, progress: Any) -> Any:
        for n in range(3):
            with job.writing("preview.jpg") as path:
                path.write_bytes(b"picture %d" % n)
            progress((n + 1) / 4, f"step {n + 1}", "preview.jpg")
        return gms_pipeline.Result(outputs=[])

    job = gms_pipeline.Job("j", {}, {}, tmp_path, None)
    events = io.StringIO()
    gms_pipeline._run(handler, job, events)
    sent = [json.loads(line) for line in events.getvalue().splitlines()]
    named = [e["preview"] for e in sent if e.get("preview")]
    assert [(tmp_path / name).read_bytes() for name in named] == [
        b"picture 0",
        b"picture 1",
        b"picture 2",
    ]
    assert sent[-1]["event"] == "result"


@pytest.mark.parametrize(
    ("setting", "pace"),
    [(None, 0.2), ("", 0.2), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0), ("soon", 0.2)],
)
def test_a_pipeline_reads_the_preview_pace_it_is_given(
    monkeypatch: pytest.MonkeyPatch, setting: str | None, pace: float
) -> None:
    """`preview_every()`: the studio's setting as the pipeline gets it (GMS_PREVIEW_EVERY), 0.2 s
    unset or unreadable, never below 0."""
    gms_pipeline = protocol_module()
    if setting is None:
        monkeypatch.delenv("GMS_PREVIEW_EVERY", raising=False)
    else:
        monkeypatch.setenv("GMS_PREVIEW_EVERY", setting)
    assert gms_pipeline.preview_every() == pace


def test_a_failed_output_leaves_no_scratch_file_and_a_written_one_no_second_name(
    tmp_path: Path,
) -> None:
    """`Job.writing`: a block that fails leaves nothing behind; one that succeeds leaves its
    file under its name alone (its scratch name was renamed, not unlinked afterwards)."""
    gms_pipeline = protocol_module()
    job = gms_pipeline.Job("j", {}, {}, tmp_path, None)
    with pytest.raises(RuntimeError), job.writing("take.png") as path:
        path.write_bytes(b"half")
        raise RuntimeError("the render failed")
    assert list(tmp_path.iterdir()) == []
    with job.writing("take.png") as path:
        path.write_bytes(b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["take.png"]
    assert (tmp_path / "take.png").read_bytes() == b"whole"
