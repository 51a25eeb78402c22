"""The thumbnail pipeline: a small preview picture of an image, a video or a sound in the project.

Images are shrunk, videos show their first frame, sounds are drawn as a waveform.
"""

from __future__ import annotations

import io
import sys
from array import array
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

# Run as `python thumbnail/main.py` from pipelines/: the shared modules sit one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_ffmpeg import stream_output
from gms_pipeline import Job, PipelineError, Progress, Result, serve

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg"}
AUDIO_SUFFIXES = {".wav", ".mp3", ".flac", ".ogg", ".aac", ".m4a"}
OUTPUT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

SAMPLE_RATE = 8000  # enough to see a waveform's shape, small enough to stream an hour
BLOCK = SAMPLE_RATE // 100  # one peak per 10 ms
BACKGROUND, CENTRE, WAVE = (22, 24, 30), (58, 62, 74), (118, 186, 255)


def source_kind(path: Path) -> str:
    """Which preview a file gets: image, video or audio; anything else has none."""
    suffix = path.suffix.lower()
    for kind, suffixes in (
        ("image", IMAGE_SUFFIXES),
        ("video", VIDEO_SUFFIXES),
        ("audio", AUDIO_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    raise PipelineError(f"no preview for {path.name}")


def image_preview(path: Path, size: int) -> Image.Image:
    """The image itself, upright and no longer than ``size`` on its longest side."""
    try:
        with Image.open(path) as opened:
            picture = ImageOps.exif_transpose(opened)
            picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError) as exc:
        raise PipelineError(f"cannot read the image {path.name}: {exc}") from None
    if picture.mode not in {"RGB", "RGBA", "L", "LA"}:
        has_alpha = "transparency" in picture.info or picture.mode in {"P", "PA"}
        picture = picture.convert("RGBA" if has_alpha else "RGB")
    return picture


def video_preview(path: Path, size: int) -> Image.Image:
    """The video's first frame, shrunk like an image."""
    frame = b"".join(
        stream_output(
            ["-i", str(path), "-an", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"]
        )
    )
    if not frame:
        raise PipelineError(f"{path.name} has no video frame")
    picture = Image.open(io.BytesIO(frame)).convert("RGB")
    picture.thumbnail((size, size), Image.Resampling.LANCZOS)
    return picture


def audio_peaks(path: Path) -> tuple[list[tuple[int, int]], float]:
    """The lowest and highest sample of every 10 ms of the sound (mixed to mono), and its length."""
    arguments = [
        "-i",
        str(path),
        "-vn",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "s16le",
        "pipe:1",
    ]
    peaks: list[tuple[int, int]] = []
    pending, count = b"", 0
    for chunk in stream_output(arguments):
        pending += chunk
        usable = len(pending) - len(pending) % (2 * BLOCK)
        samples = array("h", pending[:usable])
        if sys.byteorder == "big":
            samples.byteswap()
        pending = pending[usable:]
        count += len(samples)
        for start in range(0, len(samples), BLOCK):
            block = samples[start : start + BLOCK]
            peaks.append((min(block), max(block)))
    tail = array("h", pending[: len(pending) - len(pending) % 2])
    if sys.byteorder == "big":
        tail.byteswap()
    if tail:
        peaks.append((min(tail), max(tail)))
    return peaks, (count + len(tail)) / SAMPLE_RATE


def waveform(peaks: list[tuple[int, int]], width: int, height: int) -> Image.Image:
    """Draw the peaks as a waveform; quiet sounds are lifted so their shape still shows."""
    picture = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(picture)
    middle = (height - 1) / 2
    pen.line((0, middle, width, middle), fill=CENTRE)
    if not peaks:
        return picture
    loudest = max(max(-low, high) for low, high in peaks)
    gain = 0.95 * middle / max(loudest, 32768 * 0.05)
    for x in range(width):
        start = x * len(peaks) // width
        column = peaks[start : max(start + 1, (x + 1) * len(peaks) // width)]
        low, high = min(p[0] for p in column), max(p[1] for p in column)
        pen.line((x, middle - high * gain, x, middle - low * gain), fill=WAVE)
    return picture


def preview(job: Job, progress: Progress) -> Result:
    """Write the preview picture of the job's ``source`` into ``output``."""
    params = job.parameters
    size = int(params.get("size", 256))
    output = str(params.get("output", "thumb.png"))
    image_format = OUTPUT_FORMATS.get(Path(output).suffix.lower())
    if image_format is None:
        raise PipelineError(f"output {output} must end in .png, .jpg or .webp")
    source = str(params.get("source", ""))
    if not source:
        raise PipelineError("no source to preview")

    kind = source_kind(Path(source))
    path = job.input_path(source)
    progress(0.1, f"reading {kind} {path.name}")
    metadata: dict[str, object] = {"sourceKind": kind, "source": source}
    if kind == "image":
        picture = image_preview(path, size)
    elif kind == "video":
        picture = video_preview(path, size)
    else:
        peaks, seconds = audio_peaks(path)
        progress(0.7, "drawing the waveform")
        picture = waveform(peaks, size, max(1, size // 2))
        metadata["duration"] = round(seconds, 3)
    if image_format == "JPEG":
        picture = picture.convert("RGB")
    progress(0.9, f"saving {output}")
    with job.writing(output) as target:
        picture.save(target, format=image_format)
    metadata |= {"width": picture.width, "height": picture.height}
    return Result(outputs=[output], metadata=metadata)


if __name__ == "__main__":
    serve(preview, manifest=Path(__file__).with_name("pipeline.toml"))
