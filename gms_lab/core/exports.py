"""Exports in `06_Exports/`: which pipeline makes each kind, what its job gets, and the index.

Each finished export is described by a small JSON sidecar in `06_Exports/.exports/` (kind,
scope, files, gaps, task); the listing reads those, and lists any other file dropped into the
folder by hand too, its kind guessed from its extension (else `other`).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from ..models import ExportGap, ExportInfo, ExportKind, Project
from .assets import file_url
from .cut import Cut, cut_of, scope_of
from .errors import InvalidInput, StudioError
from .files import atomic_write, mtime
from .projects import EXPORTS

SIDECARS = f"{EXPORTS}/.exports"


@dataclass(frozen=True)
class KindSpec:
    """How an export kind is made: its pipeline, the parameters that select it, its file."""

    pipeline: str
    label: str
    prefix: str
    suffix: str
    parameters: dict[str, Any] = field(default_factory=dict)


KINDS: dict[ExportKind, KindSpec] = {
    "animatic": KindSpec("animatic", "Animatic", "animatic", ".mp4"),
    "otio": KindSpec("timeline", "OpenTimelineIO", "timeline", ".otio", {"format": "otio"}),
    "edl": KindSpec("timeline", "CMX 3600 EDL", "timeline", ".edl", {"format": "edl"}),
    "fcpxml": KindSpec("timeline", "FCP 7 XML", "timeline", ".xml", {"format": "fcpxml"}),
    "boards": KindSpec("boards", "Storyboard sheet", "boards", ".pdf"),
}
#: Export pipelines (and the kind a job of theirs makes when it names none).
PIPELINES: dict[str, ExportKind] = {"animatic": "animatic", "timeline": "otio", "boards": "boards"}


def kind_of(pipeline: str, parameters: dict[str, Any]) -> ExportKind:
    """The kind of export a job of `pipeline` with `parameters` makes."""
    if pipeline == "timeline":
        wanted = str(parameters.get("format") or "otio")
        for kind, spec in KINDS.items():
            if kind == wanted and spec.pipeline == "timeline":
                return kind
        raise InvalidInput(
            f"A timeline is written as otio, edl or fcpxml, not {wanted!r}.", {"format": wanted}
        )
    if pipeline in PIPELINES:
        return PIPELINES[pipeline]
    raise InvalidInput(f"Pipeline {pipeline!r} makes no export.", {"pipeline": pipeline})


def parse_kind(value: str) -> ExportKind:
    """An export kind from its name, or `InvalidInput` listing the kinds."""
    for kind in KINDS:
        if kind == value:
            return kind
    raise InvalidInput(
        f"Unknown export kind {value!r}; use one of {', '.join(KINDS)}.", {"kind": value}
    )


def output_name(kind: ExportKind, cut: Cut) -> str:
    """The export's main file name: `animatic-dawn.mp4`, `timeline-dawn.edl`, …"""
    spec = KINDS[kind]
    return f"{spec.prefix}-{cut.scope.slug}{spec.suffix}"


def timecode_rate(fps: float) -> float | None:
    """The SMPTE rate an EDL or XML can carry for `fps` (23.976 → 24000/1001), or None."""
    import opentimelineio

    nearest = float(opentimelineio.opentime.RationalTime.nearest_valid_timecode_rate(fps))
    return nearest if abs(nearest - fps) <= 0.01 else None


def job_parameters(
    project: Project, root: Path, pipeline: str, node_id: str, given: dict[str, Any]
) -> dict[str, Any]:
    """What an export pipeline's job needs: the cut as clips, frame rate and size, file name."""
    kind = kind_of(pipeline, given)
    cut = cut_of(project, root, node_id)
    fps: float = cut.fps
    if kind in ("edl", "fcpxml"):
        rate = timecode_rate(cut.fps)
        if rate is None:
            raise InvalidInput(
                f"{KINDS[kind].label} timecode needs a SMPTE frame rate (23.976, 24, 25, 29.97, "
                f"30, 48, 50, 59.94 or 60); the project runs at {cut.fps:g} fps. Change the "
                "project's frame rate, or export an OpenTimelineIO timeline.",
                {"fps": cut.fps, "kind": kind},
            )
        fps = rate
    if kind == "animatic" and len(cut.gaps) == len(cut.clips):
        raise InvalidInput(
            "No shot there has a selected take yet; generate and select takes first.",
            {"nodeId": node_id, "gaps": [g.name for g in cut.gaps]},
        )
    parameters: dict[str, Any] = {
        **KINDS[kind].parameters,
        "clips": [clip.wire() for clip in cut.clips],
        "fps": round(fps) if kind == "animatic" else fps,
        "width": cut.width,
        "height": cut.height,
        "output": output_name(kind, cut),
    }
    if kind != "animatic":
        parameters["title"] = cut.title
    return parameters


def describe(
    project: Project,
    root: Path,
    node_id: str,
    kind: ExportKind,
    parameters: dict[str, Any],
    files: list[str],
    task_id: str,
    author: dict[str, str] | None,
    created: datetime,
) -> ExportInfo:
    """The record of a finished export, from the job's parameters and the files placed."""
    clips = [c for c in parameters.get("clips", []) if isinstance(c, dict)]
    scope_id = None if node_id == project.id else node_id
    scope_kind, scope_name = "film", project.name
    if scope_id is not None:
        scope_kind, scope_name = "scene", scope_id
        with contextlib.suppress(StudioError):  # removed meanwhile: keep the id
            scope, _ = scope_of(project, scope_id)
            scope_kind, scope_name = scope.kind, scope.name
    main = files[0]
    return ExportInfo(
        kind=kind,
        scope=scope_id,
        scope_kind=cast(Any, scope_kind),
        scope_name=scope_name,
        path=main,
        files=files,
        created=created,
        size=(root / main).stat().st_size,
        url=file_url(project.id, main),
        task_id=task_id,
        shots=len(clips),
        duration=round(sum(float(c.get("duration", 0)) for c in clips), 6),
        fps=float(parameters["fps"]) if "fps" in parameters else None,
        gaps=[
            ExportGap(
                shot_id=str(c.get("shotId", "")),
                name=str(c.get("name", "")),
                duration=float(c.get("duration", 0)),
                reason=str(c.get("missing") or "no picture"),
            )
            for c in clips
            if c.get("path") is None
        ],
        author=author,
    )


def sidecar_path(root: Path, main: str) -> Path:
    """Where the record of the export whose main file is `main` lives."""
    return root / SIDECARS / f"{Path(main).name}.json"


def record(root: Path, info: ExportInfo) -> None:
    """Write an export's record (atomically, so the listing never reads half of one)."""
    target = sidecar_path(root, info.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, info.model_dump_json(by_alias=True, indent=2).encode() + b"\n")


_GUESS: dict[str, ExportKind] = {spec.suffix: kind for kind, spec in KINDS.items()}


def list_exports(project_id: str, root: Path) -> list[ExportInfo]:
    """Every export of the project, newest first; files without a record as kind `other`."""
    folder = root / EXPORTS
    found: list[ExportInfo] = []
    claimed: set[str] = set()
    sidecars = sorted((root / SIDECARS).glob("*.json")) if (root / SIDECARS).is_dir() else []
    for sidecar in sidecars:
        try:
            info = ExportInfo.model_validate(json.loads(sidecar.read_text(encoding="utf-8")))
        except (OSError, ValueError, ValidationError):
            continue
        present = [f for f in info.files or [info.path] if (root / f).is_file()]
        if info.path not in present:
            continue  # its file was removed by hand: so is the export
        claimed.update(info.files)
        size = (root / info.path).stat().st_size
        found.append(info.model_copy(update={"files": present, "size": size}))
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            relpath = path.relative_to(root).as_posix()
            hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
            if hidden or relpath in claimed or not path.is_file():
                continue
            found.append(
                ExportInfo(
                    kind=_GUESS.get(path.suffix.lower(), "other"),
                    path=relpath,
                    files=[relpath],
                    created=mtime(path),
                    size=path.stat().st_size,
                    url=file_url(project_id, relpath),
                )
            )
    found.sort(key=lambda info: (info.created, info.path), reverse=True)
    return found
