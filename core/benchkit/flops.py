"""FLOPs of one portrait at full size, counted on the real architectures on the meta device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.benchkit.configs import full_unet, full_vae


@dataclass(frozen=True)
class Costs:
    unet_forward: float  # TFLOP, batch 1, at the latent size
    vae_decode: float
    vae_encode: float


def measure(size: int = 1024) -> Costs:
    latent = size // 8
    unet, vae = full_unet(), full_vae()
    with torch.device("meta"):
        sample = torch.randn(1, 4, latent, latent)
        text = torch.randn(1, 77, 2048)
        cond = {"text_embeds": torch.randn(1, 1280), "time_ids": torch.randn(1, 6)}
        pixels = torch.randn(1, 3, size, size)
    return Costs(
        unet_forward=_tflop(
            lambda: unet(sample, 500, encoder_hidden_states=text, added_cond_kwargs=cond)
        ),
        vae_decode=_tflop(lambda: vae.decode(sample)),
        vae_encode=_tflop(lambda: vae.encode(pixels)),
    )


def _tflop(run) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        run()
    return counter.get_total_flops() / 1e12
