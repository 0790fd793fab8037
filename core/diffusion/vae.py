"""Latents in and out: initial noise, VAE decode and encode, tensor ↔ PIL."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from core.diffusion.components import SDXLComponents


def initial_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Noise drawn on the CPU in fp32, so a seed gives the same picture on any device."""
    return torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))


@torch.no_grad()
def decode(components: SDXLComponents, latents: torch.Tensor) -> torch.Tensor:
    """Latents → image tensor in [-1, 1], (B, 3, H, W), fp32."""
    vae = components.vae
    scaled = latents / vae.config.scaling_factor
    if getattr(vae.config, "shift_factor", None):
        scaled = scaled + vae.config.shift_factor
    return vae.decode(scaled.to(components.vae_dtype), return_dict=False)[0].float()


@torch.no_grad()
def encode(components: SDXLComponents, pixels: torch.Tensor) -> torch.Tensor:
    """Image tensor in [-1, 1] → latents (the distribution's mean: deterministic)."""
    vae = components.vae
    moments = vae.encode(pixels.to(components.device, components.vae_dtype)).latent_dist
    latents = moments.mean
    if getattr(vae.config, "shift_factor", None):
        latents = latents - vae.config.shift_factor
    return (latents * vae.config.scaling_factor).to(components.dtype)


def to_pil(pixels: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) in [-1, 1] → RGB image."""
    array = ((pixels[0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy())


def to_tensor(image: Image.Image) -> torch.Tensor:
    """RGB image → (1, 3, H, W) in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1)[None]
