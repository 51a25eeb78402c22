"""The workspace's model library (`Library/AI_Models/`): which models there are, read cheaply.

A model is either a folder in diffusers layout (`<name>/model_index.json`) or one
`*.safetensors` checkpoint (`<name>.safetensors`, or a folder `<name>/` holding exactly one).
Listing reads only small JSON files and the JSON header of a checkpoint, never its weights.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from ..models import ModelInfo
from .errors import InvalidInput

MODELS_FOLDER = "AI_Models"
#: A safetensors header larger than this is not read (real ones are a few MB at most).
_HEADER_LIMIT = 64 * 1024**2

#: diffusers pipeline classes and the family name the studio shows for them.
_FAMILIES = {
    "StableDiffusionPipeline": "stable-diffusion-1",
    "StableDiffusionImg2ImgPipeline": "stable-diffusion-1",
    "StableDiffusionXLPipeline": "stable-diffusion-xl",
    "StableDiffusionXLImg2ImgPipeline": "stable-diffusion-xl",
    "StableDiffusion3Pipeline": "stable-diffusion-3",
    "FluxPipeline": "flux",
    "PixArtAlphaPipeline": "pixart",
    "KandinskyV22Pipeline": "kandinsky",
}


def list_models(folder: Path) -> list[ModelInfo]:
    """The models in `folder` (the library's `AI_Models`), sorted by name."""
    if not folder.is_dir():
        return []
    found: dict[str, ModelInfo] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        model = describe_model(entry)
        if model is not None and model.name not in found:
            found[model.name] = model
    return list(found.values())


def describe_model(entry: Path) -> ModelInfo | None:
    """What a library entry is (None when it is no model).

    A folder holding one checkpoint is a single-file model even with diffusers configs beside
    it (that is how a checkpoint loads offline); the pipeline reads it the same way.
    """
    found = _identify(entry)
    if found is None:
        return None
    name, checkpoint, configs = found
    index = _read_json(entry / "model_index.json") if configs else None
    class_name = str(index.get("_class_name", "")) if index else ""
    if checkpoint is None:
        return ModelInfo(
            name=name,
            format="diffusers",
            family=_FAMILIES.get(class_name, class_name or None),
            pipeline_class=class_name or None,
            size=_size(entry),
            path=entry.name,
        )
    return ModelInfo(
        name=name,
        format="single-file",
        family=_family_of_checkpoint(checkpoint) or _FAMILIES.get(class_name, class_name or None),
        pipeline_class=class_name or None,
        size=_size(entry),
        path=checkpoint.relative_to(entry.parent).as_posix(),
    )


def _identify(entry: Path) -> tuple[str, Path | None, bool] | None:
    """A library entry's model name, its one checkpoint (None in diffusers layout) and whether
    it has diffusers configs; None when it is no model. Reads no model file."""
    configs = entry.is_dir() and (entry / "model_index.json").is_file()
    checkpoint = _checkpoint_of(entry)
    if checkpoint is None:
        return (entry.name, None, True) if configs else None
    return (entry.name if entry.is_dir() else entry.stem, checkpoint, configs)


def find_model(folder: Path, name: str) -> ModelInfo:
    """The model called `name`, or `InvalidInput` naming the folder and the models there."""
    model = describe_model(_entry_named(folder, name))
    if model is None:  # taken away between the two looks: say so as for any unknown name
        return find_model(folder, name)
    return model


def model_named(folder: Path, name: str) -> str:
    """`name` if the library holds a model of that name, else `InvalidInput` as `find_model`:
    what a submit checks, without describing the model (its size walks every file of it)."""
    _entry_named(folder, name)
    return name


def _entry_named(folder: Path, name: str) -> Path:
    """The library entry of the model called `name`, or `InvalidInput` naming the folder and
    the models there.

    Only the entries that can bear the name are looked at (the folder `name`, else the
    checkpoint `name.safetensors`, as `list_models` ranks them): describing every model of a
    library stats every file of it."""
    if name and "/" not in name and "\0" not in name and name[0] != ".":
        for entry in (folder / name, folder / f"{name}.safetensors"):
            found = _identify(entry)
            if found is not None and found[0] == name:
                return entry
    models = list_models(folder)
    known = ", ".join(m.name for m in models) or "none yet"
    raise InvalidInput(
        f"Unknown model {name!r}. Models in {folder} : {known}. Put a diffusers folder "
        "(with model_index.json) or a .safetensors checkpoint there.",
        {"model": name, "folder": str(folder), "known": [m.name for m in models]},
    )


def _checkpoint_of(entry: Path) -> Path | None:
    if entry.is_file() and entry.suffix == ".safetensors":
        return entry
    if entry.is_dir():
        files = [p for p in entry.glob("*.safetensors") if not p.name.startswith(".")]
        if len(files) == 1:
            return files[0]
    return None


def _family_of_checkpoint(path: Path) -> str | None:
    """The family a checkpoint's tensor names (or its metadata) tell, from its header only."""
    header = safetensors_header(path)
    if header is None:
        return None
    meta = header.get("__metadata__") or {}
    architecture = meta.get("modelspec.architecture") if isinstance(meta, dict) else None
    if isinstance(architecture, str) and architecture:
        return architecture
    keys = header.keys()
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "stable-diffusion-xl"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        return "stable-diffusion-2"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys):
        return "stable-diffusion-1"
    return None


def safetensors_header(path: Path) -> dict[str, Any] | None:
    """The JSON header of a `.safetensors` file (tensor names, shapes, metadata), or None."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                return None
            (length,) = struct.unpack("<Q", raw)
            if length > _HEADER_LIMIT:
                return None
            header = json.loads(fh.read(length))
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _size(entry: Path) -> int:
    if entry.is_file():
        return entry.stat().st_size
    return sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
