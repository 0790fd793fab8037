"""Loading the SDXL components from a models folder, the same way for tiny and real weights."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from transformers.utils import logging as hf_logging

from core.diffusion.device import vae_dtype
from core.errors import ModelError
from core.modelkit.check import check_sdxl
from core.modelkit.layout import ModelLayout

F = TypeVar("F", bound=Callable)


@dataclass
class SDXLComponents:
    """Everything stage 1 and stage 2 share; loaded once per process.

    Guarded, not thread-safe: the UNet's weights change with the stage (stage 2 fuses the
    PhotoMaker LoRA in place, the fast tier switches its adapter on), and the tokenizers and
    attention modules are not made for concurrent callers. Every painting holds `in_use` from
    its first model call to its last (`one_painting_at_a_time`); on one GPU two paintings
    would only share its time and memory, so nothing is lost by waiting.
    """

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    text_encoder_2: CLIPTextModelWithProjection
    tokenizer: CLIPTokenizer
    tokenizer_2: CLIPTokenizer
    scheduler_config: dict
    device: torch.device
    dtype: torch.dtype
    in_use: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def vae_dtype(self) -> torch.dtype:
        return next(self.vae.parameters()).dtype


def one_painting_at_a_time(method: F) -> F:
    """A method of an object with `components` that runs holding `components.in_use` (a
    re-entrant lock: a painting that calls a stage holds it once more)."""

    @functools.wraps(method)
    def holding(self, *args, **kwargs):
        with self.components.in_use:
            return method(self, *args, **kwargs)

    return holding  # type: ignore[return-value]


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
