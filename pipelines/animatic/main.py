"""The animatic pipeline: cut stills and clips into one H.264 MP4, each held for its duration.

Stills are held, clips are trimmed or held on their last frame, and everything is scaled and
letterboxed to one resolution and frame rate, then concatenated by ffmpeg in a single pass.
A clip without a path is a shot with no picture yet: it shows a slate with its name.
"""

from __future__ import annotations

import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

# Run as `python animatic/main.py` from pipelines/: the shared modules sit one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_ffmpeg import run_with_progress
from gms_pipeline import Job, PipelineError, Progress, Result, serve

STILL_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CLIP_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"}


@dataclass(frozen=True)
class Cut:
    """One entry of the animatic: a file in the project and how many frames it is on screen."""

    name: str
    path: Path
    frames: int

    @property
    def is_still(self) -> bool:
        """Whether the file is a picture to hold rather than a clip to play."""
        return self.path.suffix.lower() in STILL_SUFFIXES


def read_cuts(job: Job, fps: int, slates: Path, size: tuple[int, int]) -> list[Cut]:
    """Turn the ``clips`` parameter into cuts, naming the first clip that is unusable.

    A clip whose ``path`` is null is drawn as a slate (in ``slates``) saying what is missing.
    """
    clips: Any = job.parameters.get("clips")
    if not isinstance(clips, list) or not clips:
        raise PipelineError("the animatic has no clips")
    cuts = []
    for number, clip in enumerate(clips, start=1):
        if not isinstance(clip, dict) or not isinstance(clip.get("path", 0), str | None):
            raise PipelineError(f"clip {number} needs a path (null for a shot with no picture)")
        label = clip.get("name") if isinstance(clip.get("name"), str) else None
        name = clip["path"] or label or f"clip {number}"
        seconds = clip.get("duration")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            seconds = math.nan
        if not math.isfinite(seconds) or seconds <= 0:
            raise PipelineError(f"clip {name} needs a duration in seconds above 0")
        if clip["path"] is None:
            reason = str(clip.get("missing") or "no take")
            path = slate(slates / f"slate-{number}.png", size, label or name, reason)
        else:
            path = job.input_path(clip["path"])
        if path.suffix.lower() not in STILL_SUFFIXES | CLIP_SUFFIXES:
            raise PipelineError(f"clip {name} is not an image or a video")
        cuts.append(Cut(name=name, path=path, frames=max(1, round(seconds * fps))))
    return cuts


def slate(target: Path, size: tuple[int, int], title: str, reason: str) -> Path:
    """A dark card naming a shot that has no picture yet, and why."""
    width, height = size
    card = Image.new("RGB", size, (24, 24, 28))
    pen = ImageDraw.Draw(card)
    pen.rectangle((0, 0, width - 1, height - 1), outline=(90, 90, 100), width=max(1, width // 160))
    big = ImageFont.load_default(size=max(8, height // 10))
    small = ImageFont.load_default(size=max(6, height // 18))
    pen.text((width / 2, height * 0.45), title, fill=(235, 235, 235), font=big, anchor="mm")
    pen.text((width / 2, height * 0.62), reason, fill=(170, 170, 180), font=small, anchor="mm")
    card.save(target)
    return target


def ffmpeg_arguments(
    cuts: list[Cut], fps: int, size: tuple[int, int], crf: int, preset: str, output: Path
) -> list[str]:
    """The ffmpeg command line (after the binary) that renders the cuts into ``output``."""
    width, height = size
    inputs: list[str] = []
    chains: list[str] = []
    for index, cut in enumerate(cuts):
        seconds = f"{cut.frames / fps:.6f}"
        if cut.is_still:
            inputs += ["-loop", "1", "-framerate", str(fps), "-t", seconds, "-i", str(cut.path)]
            hold = ""
        else:
            inputs += ["-t", seconds, "-i", str(cut.path)]
            hold = f"tpad=stop_mode=clone:stop_duration={seconds},"  # a short clip holds its end
        chains.append(
            f"[{index}:v]{hold}"
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,"
            f"fps={fps},trim=end_frame={cut.frames},setpts=PTS-STARTPTS,format=yuv420p[v{index}]"
        )
    joined = "".join(f"[v{index}]" for index in range(len(cuts)))
    graph = ";".join([*chains, f"{joined}concat=n={len(cuts)}:v=1:a=0[out]"])
    return [
        *inputs,
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        preset,
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-r",
        str(fps),
        "-movflags",
        "+faststart",
        "-y",
        str(output),
    ]


def assemble(job: Job, progress: Progress) -> Result:
    """Render the animatic named by ``output`` from the job's clips."""
    params = job.parameters
    fps = int(params.get("fps", 24))
    # H.264 in yuv420p needs even sides.
    width = int(params.get("width", 1280)) // 2 * 2
    height = int(params.get("height", 720)) // 2 * 2
    output = str(params.get("output", "animatic.mp4"))
    if not output.lower().endswith(".mp4"):
        raise PipelineError(f"output {output} must be an .mp4 file name")
    crf, preset = int(params.get("crf", 26)), str(params.get("preset", "veryfast"))

    with tempfile.TemporaryDirectory(prefix=".slates-", dir=job.output_dir) as slates:
        cuts = read_cuts(job, fps, Path(slates), (width, height))
        total_frames = sum(cut.frames for cut in cuts)
        duration = total_frames / fps
        progress(0.0, f"cutting {len(cuts)} clip{'s' if len(cuts) > 1 else ''}, {duration:.1f}s")
        with job.writing(output) as path:
            arguments = ffmpeg_arguments(cuts, fps, (width, height), crf, preset, path)
            run_with_progress(arguments, duration, lambda f, s: progress(0.98 * f, s), "encoding")
    metadata = {
        "duration": duration,
        "fps": fps,
        "frames": total_frames,
        "width": width,
        "height": height,
        "clipCount": len(cuts),
        "gaps": sum(1 for clip in job.parameters["clips"] if clip["path"] is None),
        "codec": "h264",
        "crf": crf,
        "preset": preset,
        "tier": job.tier_name,
    }
    return Result(outputs=[output], metadata=metadata)


if __name__ == "__main__":
    serve(assemble, manifest=Path(__file__).with_name("pipeline.toml"))
