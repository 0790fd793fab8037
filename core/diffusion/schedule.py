"""Timestep schedules: Align-Your-Steps anchors stretched to any step count."""

from __future__ import annotations

import numpy as np

# NVIDIA's "Align Your Steps" timesteps for SDXL at 10 steps.
AYS_SDXL_ANCHORS: tuple[int, ...] = (999, 845, 730, 587, 443, 310, 193, 116, 53, 13)


def ays_timesteps(steps: int, anchors: tuple[int, ...] = AYS_SDXL_ANCHORS) -> list[int]:
    """`steps` timesteps, log-linearly interpolated over the anchors, strictly decreasing.

    With as many steps as anchors the anchors come back unchanged.
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if steps == len(anchors):
        return list(anchors)
    anchor_x = np.linspace(0.0, 1.0, len(anchors))
    log_t = np.interp(np.linspace(0.0, 1.0, steps), anchor_x, np.log(anchors))
    return _strictly_decreasing(np.rint(np.exp(log_t)).astype(int).tolist())


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
