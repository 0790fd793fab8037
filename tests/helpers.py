"""Small test doubles that wrap real parts (never replace them)."""

from __future__ import annotations

import torch


class UNetRecorder:
    """Wraps the real UNet and records what every call received."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.unet = unet
        self.batches: list[int] = []
        self.embeds: list[torch.Tensor] = []

    def __call__(self, sample: torch.Tensor, *args, **kwargs):
        self.batches.append(sample.shape[0])
        self.embeds.append(kwargs["encoder_hidden_states"].detach().clone())
        return self.unet(sample, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.unet, name)
