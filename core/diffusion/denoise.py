"""The denoising loop both stages share: guidance with a cut-off, hooks for per-step changes.

Guided steps run the UNet once at batch 2, ordered [negative, positive]; after the cut-off
the UNet runs at batch 1 on the positive side alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch
from diffusers import DPMSolverMultistepScheduler, EulerDiscreteScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from core.diffusion.progress import Progress
from core.diffusion.schedule import set_schedule
from core.diffusion.text import Conditioning

SCHEDULERS: dict[str, Callable[[dict], SchedulerMixin]] = {
    "euler": lambda config: EulerDiscreteScheduler.from_config(config),
    "dpmpp_2m": lambda config: DPMSolverMultistepScheduler.from_config(
        config, algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero"
    ),
}


def make_scheduler(
    name: str,
    config: dict,
    schedule: str,
    steps: int,
    device: torch.device,
    for_loop: bool = True,
) -> SchedulerMixin:
    """A fresh scheduler set to `steps` steps of `schedule` (schedulers keep per-run state).

    `for_loop=False` gives one for `add_noise` at arbitrary steps: a begin index would make
    every `add_noise` call use the first step's noise level.
    """
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r} (choose from {', '.join(SCHEDULERS)})")
    scheduler = SCHEDULERS[name](config)
    set_schedule(scheduler, schedule, steps, device)
    if for_loop:
        # Start at step 0 explicitly: otherwise the first step looks its timestep up in the
        # schedule with a tensor comparison, a GPU→CPU sync inside the loop.
        scheduler.set_begin_index(0)
    return scheduler


def time_ids(height: int, width: int) -> torch.Tensor:
    """SDXL's size conditioning: original size, crop corner (0, 0), target size."""
    return torch.tensor([[height, width, 0, 0, height, width]], dtype=torch.float32)


def predicted_clean(
    scheduler: SchedulerMixin, latents: torch.Tensor, noise: torch.Tensor, i: int
) -> torch.Tensor:
    """The clean latents that step i's noise prediction implies (epsilon prediction).

    Euler keeps latents as x0 + σ·ε; DPM-Solver as α·x0 + σα·ε with α = 1/√(1+σ²). The sigmas
    live on the CPU, so this needs no sync; it runs only on steps that preview.
    """
    sigma = scheduler.sigmas[i].to(latents.device, latents.dtype)
    if isinstance(scheduler, EulerDiscreteScheduler):
        return latents - sigma * noise
    alpha = (1 + sigma**2) ** -0.5
    return (latents - sigma * alpha * noise) / alpha


@dataclass
class StepConditioning:
    """What the UNet sees at one step: the positive side and, for guided steps, the negative."""

    positive: Conditioning
    negative: Conditioning


# step index → conditioning; lets stage 2 switch from text-only to identity mid-loop.
ConditioningAt = Callable[[int], StepConditioning]
# (step index, latents before the UNet) → latents; lets stage 2 re-insert the original.
BeforeStep = Callable[[int, torch.Tensor], torch.Tensor]


@dataclass
class DenoiseLoop:
    unet: torch.nn.Module
    scheduler: SchedulerMixin
    size_ids: torch.Tensor  # from time_ids(), on the device
    guidance_scale: float
    guided_steps: int
    batches: list[int] = field(default_factory=list)  # UNet batch size per call

    def run(
        self,
        latents: torch.Tensor,
        conditioning: ConditioningAt,
        progress: Progress,
        before_step: BeforeStep | None = None,
    ) -> torch.Tensor:
        guide = self.guidance_scale > 1.0
        for i, t in enumerate(self.scheduler.timesteps):
            progress.check()
            if before_step is not None:
                latents = before_step(i, latents)
            noise = self._predict(latents, t, conditioning(i), guide and i < self.guided_steps)
            clean = partial(predicted_clean, self.scheduler, latents, noise, i)  # for previews
            latents = self.scheduler.step(noise, t, latents, return_dict=False)[0]
            progress.report(i + 1, clean)
        return latents

    def _predict(
        self, latents: torch.Tensor, t: torch.Tensor, cond: StepConditioning, guided: bool
    ) -> torch.Tensor:
        side = Conditioning.cat([cond.negative, cond.positive]) if guided else cond.positive
        batch = side.embeds.shape[0]
        self.batches.append(batch)
        model_in = self.scheduler.scale_model_input(latents.repeat(batch, 1, 1, 1), t)
        noise = self.unet(
            model_in.to(side.embeds.dtype),
            t,
            encoder_hidden_states=side.embeds,
            added_cond_kwargs={
                "text_embeds": side.pooled,
                "time_ids": self.size_ids.repeat(batch, 1).to(side.embeds.dtype),
            },
            return_dict=False,
        )[0].to(latents.dtype)
        if not guided:
            return noise
        uncond, cond = noise.chunk(2)
        return uncond + self.guidance_scale * (cond - uncond)
