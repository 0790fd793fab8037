"""Timestep schedules: which noise levels a run visits, for any step count.

Three to choose from (`ScheduleName`):
- `ays`: the 10 Align-Your-Steps timesteps, interpolated log-linearly to any count (the
  original narcis.ai's reading of AYS);
- `ays-sigmas`: NVIDIA's own recipe, as ComfyUI and A1111 use it: the 11 AYS sigmas,
  interpolated log-linearly to steps + 1 values, the last replaced by 0;
- `default`: the scheduler's own spacing from its configuration.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from core.errors import UserInputError

ScheduleName = Literal["ays", "ays-sigmas", "default"]
SCHEDULES: tuple[str, ...] = ("ays", "ays-sigmas", "default")

# NVIDIA's "Align Your Steps" timesteps for SDXL at 10 steps.
AYS_SDXL_ANCHORS: tuple[int, ...] = (999, 845, 730, 587, 443, 310, 193, 116, 53, 13)
# The same schedule as NVIDIA publishes it, in sigmas (10 steps = 11 noise levels).
AYS_SDXL_SIGMAS: tuple[float, ...] = (
    14.615, 6.315, 3.771, 2.181, 1.342, 0.862, 0.555, 0.380, 0.234, 0.113, 0.029
)  # fmt: skip


def ays_timesteps(steps: int, anchors: tuple[int, ...] = AYS_SDXL_ANCHORS) -> list[int]:
    """`steps` timesteps, log-linearly interpolated over the anchors, strictly decreasing.

    With as many steps as anchors the anchors come back unchanged.
    """
    _check_steps(steps)
    if steps == len(anchors):
        return list(anchors)
    return _strictly_decreasing(np.rint(_loglinear(anchors, steps)).astype(int).tolist())


def ays_sigmas(steps: int, anchors: tuple[float, ...] = AYS_SDXL_SIGMAS) -> list[float]:
    """NVIDIA's recipe: steps + 1 sigmas log-linearly interpolated over the 11, the last 0."""
    _check_steps(steps)
    sigmas = _loglinear(anchors, steps + 1)
    sigmas[-1] = 0.0
    return sigmas.tolist()


def sigma_timesteps(sigmas: list[float], alphas_cumprod: torch.Tensor) -> list[int]:
    """The training timesteps whose noise levels are these sigmas, rounded and distinct."""
    log_sigmas = np.log((((1 - alphas_cumprod) / alphas_cumprod) ** 0.5).numpy())
    t = np.interp(np.log(sigmas), log_sigmas, np.arange(len(log_sigmas)))
    return _strictly_decreasing(np.rint(t).astype(int).tolist())


def set_schedule(
    scheduler: SchedulerMixin, schedule: str, steps: int, device: torch.device
) -> None:
    """Set a fresh scheduler to visit `steps` noise levels as `schedule` says."""
    if schedule == "ays":
        scheduler.set_timesteps(timesteps=ays_timesteps(steps), device=device)
    elif schedule == "ays-sigmas":
        # Multistep DPM-Solver takes integer timesteps only: the UNet sees the nearest
        # timestep, while the solver steps between the exact sigmas.
        sigmas = ays_sigmas(steps)
        try:
            timesteps = sigma_timesteps(sigmas[:-1], scheduler.alphas_cumprod)
        except ValueError:
            raise UserInputError(
                f"{steps} steps are too many for the ays-sigmas schedule (its timesteps would "
                "repeat); use fewer steps or another schedule"
            ) from None
        scheduler.set_timesteps(timesteps=timesteps, device=device)
        scheduler.sigmas = torch.tensor(sigmas, dtype=torch.float32)
    elif schedule == "default":
        scheduler.set_timesteps(steps, device=device)
    else:
        raise ValueError(f"unknown schedule {schedule!r} (choose from {', '.join(SCHEDULES)})")


def _loglinear(anchors: tuple[float, ...], count: int) -> np.ndarray:
    anchor_x = np.linspace(0.0, 1.0, len(anchors))
    # np.interp wants increasing x; the anchors run from high noise to low, so x does too.
    return np.exp(np.interp(np.linspace(0.0, 1.0, count), anchor_x, np.log(anchors)))


def _check_steps(steps: int) -> None:
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")


def _strictly_decreasing(timesteps: list[int]) -> list[int]:
    """Rounding can repeat a timestep near the end; nudge repeats down so every step is distinct."""
    out: list[int] = []
    for t in timesteps:
        out.append(min(t, out[-1] - 1) if out else t)
    if out[-1] < 0:
        raise ValueError(f"too many steps ({len(timesteps)}) for distinct timesteps")
    return out


def guided_step_count(steps: int, cutoff: float) -> int:
    """Steps that run classifier-free guidance when the last `cutoff` fraction runs without it."""
    if not 0.0 <= cutoff <= 1.0:
        raise ValueError(f"guidance cut-off must be within 0..1, got {cutoff}")
    return steps - int(np.floor(steps * cutoff + 1e-9))
