"""A full-size model folder at random initialisation, for timing on a GPU host without
weights: the SDXL architectures, CLIP's real tokenizers, PhotoMaker V2 and a rank-64 LoRA."""

from __future__ import annotations

from pathlib import Path

import torch

from core.bench.configs import full_text_encoders, full_unet, full_vae
from core.diffusion.photomaker.checkpoint import save_photomaker
from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder
from core.modelkit import tiny
from core.modelkit.layout import ModelLayout

LORA_RANK = 64


def build_full(root: Path) -> ModelLayout:
    layout = ModelLayout(root)
    sdxl = layout.sdxl
    torch.manual_seed(0)
    unet = full_unet("cpu")
    unet.save_pretrained(sdxl / "unet")
    full_vae("cpu").save_pretrained(sdxl / "vae")
    text_1, text_2 = full_text_encoders("cpu")
    text_1.save_pretrained(sdxl / "text_encoder")
    text_2.save_pretrained(sdxl / "text_encoder_2")
    tiny._write_tokenizer(sdxl / "tokenizer", pad_token="<|endoftext|>")
    tiny._write_tokenizer(sdxl / "tokenizer_2", pad_token="!")
    from diffusers import EulerDiscreteScheduler

    EulerDiscreteScheduler(**tiny.SCHEDULER).save_pretrained(sdxl / "scheduler")
    tiny._write_model_index(sdxl)
    encoder = PhotoMakerIdEncoder(IdEncoderConfig(version=2))
    lora = _lora(unet)
    save_photomaker(
        layout.photomaker_dir / "photomaker-v2.safetensors",
        encoder,
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
