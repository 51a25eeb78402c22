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
