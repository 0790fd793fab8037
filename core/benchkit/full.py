"""A full-size model folder at random initialisation, for timing on a GPU host without
weights: the SDXL architectures, CLIP's real tokenizers, PhotoMaker V2 and a rank-64 LoRA."""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import EulerDiscreteScheduler

from core.benchkit.configs import full_text_encoders, full_unet, full_vae
from core.diffusion.photomaker.checkpoint import save_photomaker
from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder
from core.modelkit import tiny
from core.modelkit.layout import ModelLayout

LORA_RANK = 64


def build_full(root: Path) -> ModelLayout:
    """Write the folder one component at a time, so only one lives in memory at once."""
    layout = ModelLayout(root)
    sdxl = layout.sdxl
    torch.manual_seed(0)
    unet = full_unet("cpu")
    unet.save_pretrained(sdxl / "unet")
    lora = _lora(unet)
    del unet
    full_vae("cpu").save_pretrained(sdxl / "vae")
    for name, encoder in zip(
        ("text_encoder", "text_encoder_2"), full_text_encoders("cpu"), strict=True
    ):
        encoder.save_pretrained(sdxl / name)
        del encoder
    tiny._write_tokenizer(sdxl / "tokenizer", pad_token="<|endoftext|>")
    tiny._write_tokenizer(sdxl / "tokenizer_2", pad_token="!")
    EulerDiscreteScheduler(**tiny.SCHEDULER).save_pretrained(sdxl / "scheduler")
    tiny._write_model_index(sdxl)
    save_photomaker(
        layout.photomaker_dir / "photomaker-v2.safetensors",
        PhotoMakerIdEncoder(IdEncoderConfig(version=2)),
        lora,
        {"vision_head_dim": 64, "perceiver_head_dim": 128},
    )
    return layout


def _lora(unet) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    lora = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(tiny.LORA_TARGETS):
            lora[f"unet.{name}.lora_A.weight"] = (
                torch.randn(LORA_RANK, module.in_features, generator=generator) * 0.01
            )
            lora[f"unet.{name}.lora_B.weight"] = torch.zeros(module.out_features, LORA_RANK)
    return lora
