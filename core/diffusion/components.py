"""Loading the SDXL components from a models folder, the same way for tiny and real weights."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from transformers.utils import logging as hf_logging

from core.diffusion.device import vae_dtype
from core.errors import ModelError
from core.modelkit.check import check_sdxl
from core.modelkit.layout import ModelLayout


@dataclass
class SDXLComponents:
    """Everything stage 1 and stage 2 share; loaded once per process."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    text_encoder_2: CLIPTextModelWithProjection
    tokenizer: CLIPTokenizer
    tokenizer_2: CLIPTokenizer
    scheduler_config: dict
    device: torch.device
    dtype: torch.dtype

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def vae_dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype


def load_sdxl(layout: ModelLayout, device: torch.device, dtype: torch.dtype) -> SDXLComponents:
    """Validate the folder, then `from_pretrained` each component onto the device."""
    problems = check_sdxl(layout, shapes=False)
    if problems:
        raise ModelError(f"cannot load {layout.sdxl}: " + "; ".join(problems))
    root = str(layout.sdxl)

    def pretrained(cls, name: str, torch_dtype: torch.dtype = dtype):
        model = cls.from_pretrained(
            root, subfolder=name, torch_dtype=torch_dtype, variant=layout.variant(name)
        )
        return model.to(device).eval().requires_grad_(False)

    hf_logging.disable_progress_bar()  # loading bars are noise in CLI and worker logs
    vae_config = AutoencoderKL.load_config(root, subfolder="vae")
    vae = pretrained(AutoencoderKL, "vae", vae_dtype(dtype, bool(vae_config.get("force_upcast"))))

    return SDXLComponents(
        unet=pretrained(UNet2DConditionModel, "unet"),
        vae=vae,
        text_encoder=pretrained(CLIPTextModel, "text_encoder"),
        text_encoder_2=pretrained(CLIPTextModelWithProjection, "text_encoder_2"),
        tokenizer=CLIPTokenizer.from_pretrained(root, subfolder="tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(root, subfolder="tokenizer_2"),
        scheduler_config=dict(EulerDiscreteScheduler.load_config(root, subfolder="scheduler")),
        device=device,
        dtype=dtype,
    )
