"""The diffusion pipeline: Stable Diffusion models from the workspace's library, kept warm.

Text-to-image, or image-to-image from a project file (``init_image`` + ``strength``), with
Hugging Face ``diffusers`` on PyTorch. Models come from ``Library/AI_Models/`` only (the job's
``modelsDir``; the hubs are switched off): a folder in diffusers layout, or one ``.safetensors``
checkpoint. A model is loaded once per process and kept (at most ``GMS_MODELS_KEPT`` of them),
so the next take starts denoising at once. The tier's ``optimizations`` are memory strategies
that are really switched on where they mean something (CPU offload needs CUDA); the take's
metadata records what was applied, on which device and in which precision. Every denoising
step is reported, with a small preview of the latents every few steps (at most one per
``GMS_PREVIEW_EVERY`` seconds, none in a take's first ones); a cancel stops the job
at the next step and the model stays loaded.
"""

from __future__ import annotations

import gc
import hashlib
import math
import os
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# never reach for a hub: everything comes from the library
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

# Run as `python diffusion/main.py` from pipelines/: the shared protocol module sits one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gms_pipeline import Job, PipelineError, Progress, Result, preview_every, serve

try:
    import torch
    from diffusers import (
        AutoPipelineForImage2Image,
        AutoPipelineForText2Image,
        DDIMScheduler,
        DPMSolverMultistepScheduler,
        EulerAncestralDiscreteScheduler,
        EulerDiscreteScheduler,
        PNDMScheduler,
        StableDiffusionPipeline,
    )
    from diffusers.utils import logging as diffusers_logging
    from PIL import Image

    diffusers_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # deprecations, on stderr per take
    MISSING: str | None = None
except ImportError as exc:  # reported per job, so the process still answers the protocol
    MISSING = exc.name or str(exc)

INSTALL_HINT = (
    "pip install torch==2.13.0 first (the CPU build; or the CUDA build for your GPU), "
    "then pip install 'gms_lab[diffusion]'"
)
#: How many models one process keeps loaded (an idle one is dropped for a new one).
MODELS_KEPT = max(1, int(os.environ.get("GMS_MODELS_KEPT", "1") or 1))
#: Longest side of the latent previews, and how many a take gets at most.
PREVIEW_SIZE = 256
PREVIEWS = 8
#: Seconds at least between two previews, and from the start of the denoising to the first:
#: a take done sooner gets none (its picture comes before a preview could be looked at).
PREVIEW_EVERY = preview_every()
#: Latent channels → RGB: a linear fit for Stable Diffusion 1.x/2.x latents (no model needed).
LATENT_RGB = [
    [0.298, 0.207, 0.208],
    [0.187, 0.286, 0.173],
    [-0.158, 0.189, 0.264],
    [-0.184, -0.271, -0.473],
]
SCHEDULERS: dict[str, Any] = (
    {
        "ddim": DDIMScheduler,
        "euler": EulerDiscreteScheduler,
        "euler-ancestral": EulerAncestralDiscreteScheduler,
        "dpm-solver++": DPMSolverMultistepScheduler,
        "pndm": PNDMScheduler,
    }
    if MISSING is None
    else {}
)


# --- the library -------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryModel:
    """A model found in the library: how it is stored and a fingerprint of what defines it."""

    name: str
    format: str  # "diffusers" | "single-file"
    path: Path  # the diffusers folder, or the checkpoint file
    config: Path | None  # single file: a folder of diffusers configs beside it, if any
    fingerprint: str

    def describe(self) -> dict[str, Any]:
        """The model as the take's metadata records it."""
        return {"name": self.name, "format": self.format, "sha256": self.fingerprint}


#: Fingerprints already computed, by what the files look like on disk (see `_signature`).
_FINGERPRINTS: dict[tuple[object, ...], str] = {}


def _signature(paths: list[Path]) -> tuple[object, ...]:
    """Names, sizes and change times of `paths`: a file rewritten in place changes it."""
    marks: list[object] = []
    for path in paths:
        info = path.stat()
        marks += [str(path), info.st_size, info.st_mtime_ns, info.st_ino]
    return tuple(marks)


def _remembered(key: tuple[object, ...], compute: Any) -> str:
    """The fingerprint for `key`, computed once while the files stay as they are."""
    if key not in _FINGERPRINTS:
        if len(_FINGERPRINTS) > 64:
            _FINGERPRINTS.clear()
        _FINGERPRINTS[key] = compute()
    return _FINGERPRINTS[key]


def locate(models_dir: Path | None, name: str) -> LibraryModel:
    """Find model `name` in the library (the same rules as the studio's model listing).

    Asked at every take: the files are only stat-ed then, and hashed again when they changed.
    """
    where = f"{models_dir}" if models_dir else "the workspace's Library/AI_Models"
    put = (
        f"Put a diffusers folder {name}/ (with model_index.json) or a checkpoint "
        f"{name}.safetensors into {where} (the workspace's Library/AI_Models/)."
    )
    if not name:
        raise PipelineError(f"No model chosen. {put}")
    if models_dir is None or not models_dir.is_dir():
        raise PipelineError(f"The model library {where} is not there. {put}")
    entry = models_dir / name
    if entry.is_dir():
        checkpoints = [p for p in entry.glob("*.safetensors") if not p.name.startswith(".")]
        if len(checkpoints) == 1:
            config = entry if (entry / "model_index.json").is_file() else None
            return _single_file(name, checkpoints[0], config)
        if (entry / "model_index.json").is_file():
            files = _model_files(entry)
            fingerprint = _remembered(
                ("folder", *_signature(files)), lambda: _folder_fingerprint(entry, files)
            )
            return LibraryModel(name, "diffusers", entry, None, fingerprint)
    if (models_dir / f"{name}.safetensors").is_file():
        return _single_file(name, models_dir / f"{name}.safetensors", None)
    raise PipelineError(f"Model {name!r} is not in the library. {put}")


def _single_file(name: str, checkpoint: Path, config: Path | None) -> LibraryModel:
    files = [checkpoint, *(_model_files(config) if config is not None else [])]

    def compute() -> str:
        digest = hashlib.sha256()
        with checkpoint.open("rb") as fh:
            raw = fh.read(8)
            length = int.from_bytes(raw, "little") if len(raw) == 8 else 0
            digest.update(fh.read(min(length, 64 * 1024**2)))
        digest.update(str(checkpoint.stat().st_size).encode())
        if config is not None:
            digest.update(_folder_fingerprint(config, files[1:], skip_weights=True).encode())
        return digest.hexdigest()

    fingerprint = _remembered(("single-file", *_signature(files)), compute)
    return LibraryModel(name, "single-file", checkpoint, config, fingerprint)


def _model_files(folder: Path) -> list[Path]:
    """The files of a model folder, sorted, without hidden ones (partial writes and such)."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _folder_fingerprint(folder: Path, files: list[Path], skip_weights: bool = False) -> str:
    """A hash of a diffusers folder's configs and weight index (file names and sizes)."""
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(folder).as_posix()
        if path.suffix in (".json", ".txt"):
            digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        elif not skip_weights:
            digest.update(f"{relative}\0{path.stat().st_size}\0".encode())
    return digest.hexdigest()


# --- loading, kept warm ------------------------------------------------------------------


@dataclass
class Loaded:
    """A pipeline in memory, as the tier set it up."""

    model: LibraryModel
    text2image: Any
    image2image: Any = None
    scheduler_class: Any = None
    scheduler_config: dict[str, Any] = field(default_factory=dict)
    load_seconds: float = 0.0
    setup: dict[str, Any] = field(default_factory=dict)
    #: Schedulers made for this model, by name: made once, reset by diffusers at every call.
    schedulers: dict[str, Any] = field(default_factory=dict)


class WarmModels:
    """The models this process keeps loaded, least recently used first."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.loaded: OrderedDict[tuple[str, str, tuple[str, ...]], Loaded] = OrderedDict()

    def get(self, model: LibraryModel, optimizations: list[str], progress: Progress) -> Loaded:
        """The loaded pipeline for `model`; loads it (dropping the oldest) when it is not."""
        key = (model.name, model.fingerprint, tuple(optimizations))
        if key in self.loaded:
            self.loaded.move_to_end(key)
            return self.loaded[key]
        while len(self.loaded) >= self.keep:
            _, old = self.loaded.popitem(last=False)
            progress(0.01, f"unloading model {old.model.name}")
            del old
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        progress(0.02, f"loading model {model.name}")
        started = time.perf_counter()
        loaded = _load(model, optimizations)
        loaded.load_seconds = time.perf_counter() - started
        self.loaded[key] = loaded
        return loaded


def device_and_dtype() -> tuple[str, Any]:
    """CUDA in half precision where there is a GPU, else the CPU in float32."""
    if torch.cuda.is_available():
        return "cuda", torch.float16
    return "cpu", torch.float32


def _load(model: LibraryModel, optimizations: list[str]) -> Loaded:
    device, dtype = device_and_dtype()
    try:
        if model.format == "diffusers":
            pipe = AutoPipelineForText2Image.from_pretrained(
                str(model.path), torch_dtype=dtype, local_files_only=True
            )
        else:
            options: dict[str, Any] = {"torch_dtype": dtype, "local_files_only": True}
            if model.config is not None:
                options["config"] = str(model.config)
            pipe = StableDiffusionPipeline.from_single_file(str(model.path), **options)
    except (OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        hint = ""
        if model.format == "single-file" and model.config is None:
            hint = (
                " A single checkpoint needs its family's diffusers configs to load offline: "
                f"put it in a folder {model.name}/ together with model_index.json and the "
                "component configs (unet/config.json, vae/config.json, text_encoder/config.json, "
                "tokenizer/, scheduler/) of its family."
            )
        raise PipelineError(f"Model {model.name!r} could not be loaded: {detail}.{hint}") from exc
    pipe.set_progress_bar_config(disable=True)
    setup = _apply_tier(pipe, optimizations, device)
    return Loaded(
        model=model,
        text2image=pipe,
        scheduler_class=type(pipe.scheduler),
        scheduler_config=dict(pipe.scheduler.config),
        schedulers={"default": pipe.scheduler},
        setup={"device": device, "dtype": str(dtype).removeprefix("torch."), **setup},
    )


def _apply_tier(pipe: Any, optimizations: list[str], device: str) -> dict[str, Any]:
    """Switch on the tier's memory strategies; report what was applied and what could not be."""
    applied: list[str] = []
    skipped: dict[str, str] = {}
    offload = "none"
    for name in optimizations:
        if name in ("sequential-cpu-offload", "model-cpu-offload"):
            if device != "cuda":
                skipped[name] = "needs a CUDA device (the pipeline runs on the CPU)"
                continue
            if offload != "none":
                skipped[name] = f"{offload} offload is already on"
                continue
            if name == "sequential-cpu-offload":
                pipe.enable_sequential_cpu_offload()
                offload = "sequential"
            else:
                pipe.enable_model_cpu_offload()
                offload = "model"
            applied.append(name)
        elif name == "attention-slicing":
            pipe.enable_attention_slicing()
            applied.append(name)
        elif name == "vae-tiling":
            pipe.vae.enable_tiling()
            applied.append(name)
        else:
            skipped[name] = "not known to this pipeline"
    if offload == "none":
        pipe.to(device)
    return {"offload": offload, "applied": applied, "skipped": skipped}


WARM = WarmModels(MODELS_KEPT)


# --- previews ----------------------------------------------------------------------------


def latent_preview(latents: Any, longest: int = PREVIEW_SIZE) -> Image.Image:
    """A small RGB picture of the latents: a fixed linear projection, no decoder run, scaled
    up whole times to at most `longest` pixels on its longest side (the take's own size for a
    take smaller than `PREVIEW_SIZE`: a bigger preview shows nothing more, and encoding it
    costs a fast take's denoiser time)."""
    sample = latents[0].detach().float().cpu()
    if sample.shape[0] == len(LATENT_RGB):
        rgb = torch.einsum("chw,cr->rhw", sample, torch.tensor(LATENT_RGB))
    else:
        rgb = sample[:3] / 4
    rgb = ((rgb + 1) / 2).clamp(0, 1).mul(255).round().to(torch.uint8)
    picture = Image.fromarray(rgb.permute(1, 2, 0).numpy(), "RGB")
    height, width = rgb.shape[1:]
    scale = max(1, min(longest, PREVIEW_SIZE) // max(height, width))
    return picture.resize((width * scale, height * scale), Image.Resampling.BILINEAR)


# --- the job -----------------------------------------------------------------------------


def render(job: Job, progress: Progress) -> Result:
    """Make one take, ``take.png``, from the job's prompt, model and tier."""
    if MISSING is not None:
        raise PipelineError(
            f"The diffusion pipeline needs {MISSING}, which is not installed: {INSTALL_HINT}."
        )
    params = job.parameters
    width, height = int(params["width"]), int(params["height"])
    if width % 8 or height % 8:
        raise PipelineError(f"width and height must be multiples of 8, not {width}x{height}")
    steps, seed = int(params["steps"]), int(params["seed"])
    guidance = float(params["guidance"])
    scheduler_name = str(params.get("scheduler") or "default")
    init_relpath = str(params.get("init_image") or "")
    strength = float(params.get("strength", 0.75))
    optimizations = [str(o) for o in job.tier.get("optimizations", [])]

    model = locate(job.models_dir, str(params.get("model") or ""))
    reused = any(key[0] == model.name and key[1] == model.fingerprint for key in WARM.loaded)
    loaded = WARM.get(model, optimizations, progress)
    if reused:
        progress(0.05, f"model {model.name} ready")

    pipe = loaded.text2image
    options: dict[str, Any] = {}
    init_sha = None
    if init_relpath:
        source = job.input_path(init_relpath)
        init_sha = hashlib.sha256(source.read_bytes()).hexdigest()
        with Image.open(source) as opened:
            init = opened.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        if loaded.image2image is None:
            loaded.image2image = AutoPipelineForImage2Image.from_pipe(pipe)
            loaded.image2image.set_progress_bar_config(disable=True)
        pipe = loaded.image2image
        options = {"image": init, "strength": strength}
    else:
        options = {"width": width, "height": height}
    scheduler = _scheduler(scheduler_name, loaded)
    if pipe.scheduler is not scheduler:
        pipe.scheduler = scheduler

    every = max(1, math.ceil(steps / PREVIEWS))
    longest = max(width, height)
    last_preview = time.monotonic()

    def on_step(pipeline: Any, index: int, timestep: Any, tensors: dict[str, Any]) -> Any:
        nonlocal last_preview
        total = max(1, int(getattr(pipeline, "num_timesteps", 0) or steps))
        done = index + 1
        preview = None
        if done % every == 0 and done < total and time.monotonic() - last_preview >= PREVIEW_EVERY:
            last_preview = time.monotonic()
            with job.writing("preview.jpg") as path:
                picture = latent_preview(tensors["latents"], longest)
                picture.save(path, format="JPEG", quality=80)
            preview = "preview.jpg"
        progress(0.1 + 0.8 * done / total, f"denoising {done}/{total}", preview)
        if done == total:
            progress(0.92, "decoding")
        return tensors

    generator = torch.Generator(device="cpu").manual_seed(seed)
    output = pipe(
        prompt=str(params.get("prompt", "")),
        negative_prompt=str(params.get("negative_prompt", "")) or None,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=generator,
        callback_on_step_end=on_step,
        callback_on_step_end_tensor_inputs=["latents"],
        **options,
    )
    image = output.images[0]
    progress(0.97, "saving take.png")
    with job.writing("take.png") as path:
        image.save(path, format="PNG")

    metadata = {
        "generator": "diffusers",
        "model": {**model.describe(), "loadSeconds": 0.0 if reused else loaded.load_seconds},
        "modelReused": reused,
        **loaded.setup,
        "tier": job.tier_name,
        "tierOptimizations": optimizations,
        "scheduler": scheduler_name,
        "schedulerClass": type(pipe.scheduler).__name__,
        "seed": seed,
        "steps": steps,
        "guidance": guidance,
        "width": image.width,
        "height": image.height,
        "prompt": str(params.get("prompt", "")),
        "negativePrompt": str(params.get("negative_prompt", "")),
        "initImage": init_relpath or None,
        "initImageSha256": init_sha,
        "strength": strength if init_relpath else None,
        "pid": os.getpid(),
        "versions": {"torch": torch.__version__, "diffusers": _version("diffusers")},
    }
    return Result(outputs=["take.png"], metadata=metadata)


def _scheduler(name: str, loaded: Loaded) -> Any:
    """The scheduler of the asked kind, configured from the model's own scheduler.

    One per kind and model, made at its first use: a scheduler keeps no state from one call to
    the next (diffusers resets it when the call sets its timesteps), so a seed gives the same
    pixels whichever take used it before.
    """
    if name not in loaded.schedulers:
        config = loaded.scheduler_config
        if name == "default":
            made = loaded.scheduler_class.from_config(config)
        elif name in SCHEDULERS:
            made = SCHEDULERS[name].from_config(config)
        else:
            raise PipelineError(f"unknown scheduler {name!r}; use one of {', '.join(SCHEDULERS)}")
        loaded.schedulers[name] = made
    return loaded.schedulers[name]


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    serve(render, manifest=Path(__file__).with_name("pipeline.toml"))
