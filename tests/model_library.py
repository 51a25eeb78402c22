"""Tiny Stable-Diffusion-shaped models with random weights, built by the tests (no download).

`build_tiny_sd(folder)` saves a diffusers-layout pipeline (UNet, VAE, CLIP text encoder, a
tokenizer made from a small vocabulary, DDIM scheduler) of a few hundred kilobytes, the shape of
the models a studio keeps in `Library/AI_Models/`.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path
from typing import Any

os.environ["HF_HUB_OFFLINE"] = "1"


def _tokenizer_files(folder: Path) -> None:
    """A CLIP tokenizer's vocab.json and merges.txt: letters, letters ending a word, specials."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    letters = string.ascii_lowercase + string.digits + ".,!?'-"
    tokens += list(letters) + [f"{c}</w>" for c in letters]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")


def build_tiny_sd(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random-weight Stable Diffusion pipeline in diffusers layout at `folder`."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
    )
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=16,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=16,
            intermediate_size=32,
            num_attention_heads=2,
            num_hidden_layers=2,
            vocab_size=100,
            max_position_embeddings=77,
            projection_dim=16,
        )
    )
    vocab = folder.parent / f".{folder.name}-tokenizer"
    _tokenizer_files(vocab)
    tokenizer = CLIPTokenizer(
        str(vocab / "vocab.json"), str(vocab / "merges.txt"), model_max_length=77
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
    )
    pipe = StableDiffusionPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    for leftover in vocab.iterdir():
        leftover.unlink()
    vocab.rmdir()
    return folder


# --- the same model as one checkpoint in the original (LDM / CompVis) layout -----------------
#
# Single-file Stable Diffusion checkpoints keep the key names of the original training code:
# the UNet under `model.diffusion_model.` (numbered `input_blocks` / `middle_block` /
# `output_blocks`, resnets with `in_layers` / `out_layers`), the VAE under `first_stage_model.`
# (`down.i.block.j`, `mid.block_1`, decoder `up` blocks numbered from the bottom, attention as
# 1x1 convolutions named q/k/v/proj_out) and the CLIP text encoder under
# `cond_stage_model.transformer.` with its own names. diffusers reads that layout
# (`from_single_file`); these functions write it from a diffusers model, for the tests.

_UNET_RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_UNET_TOP = {
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_in": "input_blocks.0.0",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}
_VAE_TOP = {"conv_norm_out": "norm_out"}
_VAE_ATTENTION = {
    "group_norm": "norm",
    "to_q": "q",
    "to_k": "k",
    "to_v": "v",
    "to_out.0": "proj_out",
}


def _rename_head(rest: str, names: dict[str, str]) -> str:
    """`rest` with its leading module name (one or two dotted parts) renamed by `names`."""
    for old, new in names.items():
        if rest.startswith(old + "."):
            return new + rest[len(old) :]
    return rest


def original_unet_key(key: str, config: dict[str, object]) -> str:
    """The original-layout name of a diffusers UNet2DConditionModel parameter."""
    per_block = int(str(config["layers_per_block"]))
    parts = key.split(".")
    for old, new in _UNET_TOP.items():
        if key.startswith(old + "."):
            return new + key[len(old) :]
    if parts[0] == "down_blocks":
        block, kind = int(parts[1]), parts[2]
        first = 1 + block * (per_block + 1)
        if kind == "downsamplers":  # down_blocks.b.downsamplers.0.conv.weight
            return f"input_blocks.{first + per_block}.0.op." + ".".join(parts[5:])
        layer, rest = int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"input_blocks.{first + layer}.0." + _rename_head(rest, _UNET_RESNET)
        return f"input_blocks.{first + layer}.1.{rest}"  # attentions keep their inner names
    if parts[0] == "mid_block":
        kind, index, rest = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":  # resnet, attention, resnet
            return f"middle_block.{2 * index}." + _rename_head(rest, _UNET_RESNET)
        return f"middle_block.1.{rest}"
    if parts[0] == "up_blocks":
        block, kind = int(parts[1]), parts[2]
        first = block * (per_block + 1)
        if kind == "upsamplers":  # after the block's last layer, behind its attention if any
            up_types = config["up_block_types"]
            assert isinstance(up_types, (list, tuple))
            slot = 2 if "CrossAttn" in str(up_types[block]) else 1
            return f"output_blocks.{first + per_block}.{slot}.conv." + ".".join(parts[5:])
        layer, rest = int(parts[3]), ".".join(parts[4:])
        if kind == "resnets":
            return f"output_blocks.{first + layer}.0." + _rename_head(rest, _UNET_RESNET)
        return f"output_blocks.{first + layer}.1.{rest}"
    raise ValueError(f"no original name known for UNet parameter {key}")


def original_vae_key(key: str, config: dict[str, object]) -> str:
    """The original-layout name of a diffusers AutoencoderKL parameter."""
    if key.startswith(("quant_conv.", "post_quant_conv.")):
        return key
    half, rest = key.split(".", 1)  # encoder | decoder
    parts = rest.split(".")
    if parts[0] in ("conv_in", "conv_out", "conv_norm_out"):
        return f"{half}." + _rename_head(rest, _VAE_TOP)
    if parts[0] == "mid_block":
        kind, index, inner = parts[1], int(parts[2]), ".".join(parts[3:])
        if kind == "resnets":
            return f"{half}.mid.block_{index + 1}." + _rename_head(
                inner, {"conv_shortcut": "nin_shortcut"}
            )
        return f"{half}.mid.attn_1." + _rename_head(inner, _VAE_ATTENTION)
    up_types = config["up_block_types"]
    assert isinstance(up_types, (list, tuple))
    if parts[0] == "down_blocks":  # encoder: same order
        level, kind = int(parts[1]), parts[2]
        name = f"{half}.down.{level}"
    elif parts[0] == "up_blocks":  # decoder: the original numbers its levels from the bottom
        level, kind = len(up_types) - 1 - int(parts[1]), parts[2]
        name = f"{half}.up.{level}"
    else:
        raise ValueError(f"no original name known for VAE parameter {key}")
    if kind in ("downsamplers", "upsamplers"):  # …samplers.0.conv.weight
        sampler = "downsample" if kind == "downsamplers" else "upsample"
        return f"{name}.{sampler}." + ".".join(parts[4:])
    layer, inner = int(parts[3]), ".".join(parts[4:])
    return f"{name}.block.{layer}." + _rename_head(inner, {"conv_shortcut": "nin_shortcut"})


def original_state_dict(pipe: Any) -> dict[str, Any]:
    """One state dict in the original layout from a diffusers Stable Diffusion pipeline."""
    out: dict[str, Any] = {}
    unet_config = dict(pipe.unet.config)
    for key, tensor in pipe.unet.state_dict().items():
        out["model.diffusion_model." + original_unet_key(key, unet_config)] = tensor
    vae_config = dict(pipe.vae.config)
    for key, tensor in pipe.vae.state_dict().items():
        name = original_vae_key(key, vae_config)
        if ".mid.attn_1." in name and name.endswith(
            ("q.weight", "k.weight", "v.weight", "proj_out.weight")
        ):
            tensor = tensor[:, :, None, None]  # the original's attention is 1x1 convolutions
        out["first_stage_model." + name] = tensor
    for key, tensor in pipe.text_encoder.state_dict().items():
        # the original keeps the CLIP text model under `text_model.`, which recent
        # transformers versions no longer put in CLIPTextModel's own names
        name = key if key.startswith("text_model.") else f"text_model.{key}"
        out["cond_stage_model.transformer." + name] = tensor
    return {k: v.detach().contiguous().clone() for k, v in out.items()}


def save_single_file(diffusers_folder: Path, folder: Path) -> Path:
    """Save the diffusers model at `diffusers_folder` as `folder/<folder name>.safetensors`.

    Beside the checkpoint go the diffusers configs it needs to load offline (model_index.json,
    the components' config files, the tokenizer and the scheduler), without any weights.
    """
    import shutil

    from diffusers import StableDiffusionPipeline
    from safetensors.torch import save_file

    pipe = StableDiffusionPipeline.from_pretrained(str(diffusers_folder), local_files_only=True)
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(diffusers_folder.rglob("*")):
        if path.is_file() and path.suffix in (".json", ".txt"):
            target = folder / path.relative_to(diffusers_folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    checkpoint = folder / f"{folder.name}.safetensors"
    partial = checkpoint.with_name(f".{checkpoint.name}.part")
    save_file(original_state_dict(pipe), str(partial), metadata={"format": "pt"})
    partial.replace(checkpoint)
    return checkpoint
