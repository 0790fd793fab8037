"""`narcis bench overhead`: host-side milliseconds per step, with a denoiser that does nothing.

What is left is our loop: schedulers, guidance bookkeeping, re-insertion, progress hooks.
"""

from __future__ import annotations

import statistics
import time

import torch

from core.diffusion.denoise import DenoiseLoop, StepConditioning, make_scheduler, time_ids
from core.diffusion.masks import step_masks
from core.diffusion.progress import Progress
from core.diffusion.text import Conditioning
from core.modelkit.tiny import SCHEDULER


class NoOpUNet(torch.nn.Module):
    def forward(self, sample: torch.Tensor, *args, **kwargs):
        return (torch.zeros_like(sample),)


def per_step_ms(
    steps: int = 20, latent: int = 128, runs: int = 5, differential: bool = False
) -> float:
    """Median milliseconds per step over `runs` loops at full latent size (no UNet work)."""
    cond = Conditioning(torch.zeros(1, 77, 2048), torch.zeros(1, 1280))
    sides = StepConditioning(cond, cond)
    change = torch.rand(1, 1, latent, latent)
    masks = step_masks(change, steps)
    times = []
    for _ in range(runs):
        scheduler = make_scheduler("dpmpp_2m", dict(SCHEDULER), "ays", steps, torch.device("cpu"))
        loop = DenoiseLoop(NoOpUNet(), scheduler, time_ids(1024, 1024), 4.0, int(steps * 0.8))
        latents = torch.randn(1, 4, latent, latent)
        original = latents.clone()

        def reinsert(i: int, current: torch.Tensor, original=original) -> torch.Tensor:
            return torch.where(masks[i], original, current)

        started = time.perf_counter()
        loop.run(
            latents,
            lambda _: sides,
            Progress("overhead", steps),
            before_step=reinsert if differential else None,
        )
        times.append((time.perf_counter() - started) * 1000 / steps)
    return statistics.median(times)
