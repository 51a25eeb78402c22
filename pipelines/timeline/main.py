"""The timeline pipeline: the cut as an OpenTimelineIO timeline, for an editor.

It writes the timeline as `.otio`, or through OpenTimelineIO's own adapters as a CMX 3600 EDL
(`otio-cmx3600-adapter`) or an FCP 7 XML (`otio-fcp-adapter`). Media references are relative
to the export folder (`../03_Renders/…`), so the folder travels with its project. A shot with
no picture is a gap of its duration, named after the shot; EDL and XML gaps carry no name, so
there it is a black slug clip with the shot's name instead.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import opentimelineio as otio

# Run as `python timeline/main.py` from pipelines/: the shared modules sit one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_pipeline import Job, PipelineError, Progress, Result, serve

#: Format → (file suffix, OTIO adapter).
FORMATS = {
    "otio": (".otio", "otio_json"),
    "edl": (".edl", "cmx_3600"),
    "fcpxml": (".xml", "fcp_xml"),
}
#: Where the exports live, seen from the project: media paths are made relative to it.
EXPORT_FOLDER_DEPTH = 1
#: What each adapter calls a black filler clip.
SLUG = {"edl": "black", "fcpxml": "Slug"}
#: Facts about a shot carried into the timeline's metadata, under "gms".
CARRIED = (
    "shotId",
    "takeId",
    "sceneId",
    "sceneName",
    "chapterId",
    "chapterName",
    "prompt",
    "seed",
    "tier",
    "pipeline",
    "notes",
    "media",
)


def relative_url(project_path: str) -> str:
    """A project-relative file as a URL relative to the export folder (`../03_Renders/…`)."""
    return "../" * EXPORT_FOLDER_DEPTH + quote(project_path, safe="/")


def frames_of(seconds: Any, fps: float, name: str) -> int:
    """A duration in seconds as a whole number of frames (at least one)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise PipelineError(f"clip {name} needs a duration in seconds above 0")
    return max(1, round(seconds * fps))


def timecode_rate(fps: float, form: str) -> float:
    """The frame rate as EDL and XML timecode can carry it (23.976 → 24000/1001).

    Those formats know only the SMPTE rates; the .otio keeps any rate.
    """
    if form == "otio":
        return fps
    nearest = float(otio.opentime.RationalTime.nearest_valid_timecode_rate(fps))
    if abs(nearest - fps) > 0.01:
        raise PipelineError(
            f"{form} timecode needs a SMPTE frame rate (23.976, 24, 25, 29.97, 30, 48, 50, "
            f"59.94 or 60), not {fps:g}; change the project's frame rate or export otio"
        )
    return nearest


def build(job: Job, fps: float, title: str) -> otio.schema.Timeline:
    """The cut as one video track: a clip per shot with a picture, a named gap per shot without."""
    clips: Any = job.parameters.get("clips")
    if not isinstance(clips, list) or not clips:
        raise PipelineError("the timeline has no clips")
    timeline = otio.schema.Timeline(name=title)
    timeline.global_start_time = otio.opentime.RationalTime(0, fps)
    timeline.metadata["gms"] = {
        "fps": fps,
        "width": job.parameters.get("width"),
        "height": job.parameters.get("height"),
    }
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for number, clip in enumerate(clips, start=1):
        if not isinstance(clip, dict) or not isinstance(clip.get("path", 0), str | None):
            raise PipelineError(f"clip {number} needs a path (null for a shot with no picture)")
        name = str(clip.get("name") or clip["path"] or f"shot {number}")
        length = otio.opentime.RationalTime(frames_of(clip.get("duration"), fps, name), fps)
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, fps), length)
        facts = {key: clip[key] for key in CARRIED if clip.get(key) not in (None, "")}
        item: otio.core.Item
        if clip["path"] is None:
            facts["missing"] = str(clip.get("missing") or "no picture")
            item = otio.schema.Gap(name=name, source_range=span)
        else:
            job.input_path(clip["path"])  # it must exist, inside the project
            facts["file"] = clip["path"]
            reference = otio.schema.ExternalReference(
                target_url=relative_url(clip["path"]), available_range=span
            )
            item = otio.schema.Clip(name=name, media_reference=reference, source_range=span)
        item.metadata["gms"] = facts
        track.append(item)
    return timeline


def with_named_slugs(timeline: otio.schema.Timeline, form: str) -> otio.schema.Timeline:
    """A copy whose gaps are black slug clips named after their shots (EDL and XML)."""
    copy = timeline.deepcopy()
    track = copy.tracks[0]
    for index, item in enumerate(list(track)):
        if not isinstance(item, otio.schema.Gap):
            continue
        span = item.source_range
        reference = otio.schema.GeneratorReference(
            name=item.name, generator_kind=SLUG[form], available_range=span
        )
        if form == "fcpxml":
            # Final Cut's own generator item: a black slug, as its editor makes one
            reference.metadata["fcp_xml"] = {
                "effecttype": "generator",
                "mediatype": "video",
                "effectcategory": "Matte",
            }
        slug = otio.schema.Clip(name=item.name, media_reference=reference, source_range=span)
        slug.metadata["gms"] = dict(item.metadata.get("gms", {}))
        if form == "edl":
            slug.metadata["cmx_3600"] = {"reel": "BL"}  # the EDL's own word for black
        track[index] = slug
    for clip in track.find_clips():
        take = str(clip.metadata.get("gms", {}).get("takeId") or "")
        if form == "edl" and take:
            # reels are 8 characters: the take id's random part names the source uniquely
            clip.metadata["cmx_3600"] = {"reel": take.removeprefix("tk_")[:8].upper()}
    return copy


def export(job: Job, progress: Progress) -> Result:
    """Write the timeline of the job's clips in the asked format, as ``output``."""
    params = job.parameters
    form = str(params.get("format", "otio"))
    if form not in FORMATS:
        raise PipelineError(f"format {form} is not one of {', '.join(FORMATS)}")
    suffix, adapter = FORMATS[form]
    output = str(params.get("output", f"timeline{suffix}"))
    if not output.lower().endswith(suffix):
        raise PipelineError(f"output {output} must be a {suffix} file name for {form}")
    fps = timecode_rate(float(params.get("fps", 24)), form)
    title = str(params.get("title") or Path(output).stem)
    progress(0.1, f"building the timeline of {len(params.get('clips') or [])} shots")
    timeline = build(job, fps, title)
    written = timeline if form == "otio" else with_named_slugs(timeline, form)
    progress(0.6, f"writing {output} with the {adapter} adapter")
    options: dict[str, Any] = {"rate": fps} if form == "edl" else {}
    with job.writing(output) as path:
        otio.adapters.write_to_file(written, str(path), adapter_name=adapter, **options)
    track = timeline.tracks[0]
    frames = track.duration().to_frames()
    metadata = {
        "format": form,
        "adapter": adapter,
        "clips": len(track),
        "gaps": sum(1 for item in track if isinstance(item, otio.schema.Gap)),
        "frames": frames,
        "duration": frames / fps,
        "fps": fps,
        "otioVersion": otio.__version__,
    }
    return Result(outputs=[output], metadata=metadata)


if __name__ == "__main__":
    serve(export, manifest=Path(__file__).with_name("pipeline.toml"))
