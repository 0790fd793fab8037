"""The timestep schedule, drawn: timesteps per step, and how much of the crop is still being
pinned to the original at each step (differential diffusion's shrinking masks)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.diffusion.schedule import SCHEDULES

WIDTH, HEIGHT, PAD = 640, 300, 36


def active_fractions(change: np.ndarray, steps: int) -> list[float]:
    """Per step, the fraction of pixels that are free to change (keep ≤ i/N)."""
    keep = 1.0 - change
    return [float((keep <= i / steps).mean()) for i in range(steps)]


def schedule_plot(
    steps: int,
    change: np.ndarray | None = None,
    guided: int | None = None,
    merge_step: int | None = None,
    schedule: str = "ays",
    scheduler: str = "dpmpp_2m",
) -> Image.Image:
    """`merge_step` is `start_merge_step`, the last text-only step: identity starts after it.
    The chosen schedule is drawn bold, the others faint for comparison."""
    timesteps = planned_timesteps(schedule, steps, scheduler)
    image = Image.new("RGB", (WIDTH, HEIGHT), (18, 18, 22))
    draw = ImageDraw.Draw(image)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(i: int) -> float:
        return PAD + inner_w * (i + 0.5) / steps

    if change is not None:
        for i, fraction in enumerate(active_fractions(change, steps)):
            top = PAD + inner_h * (1 - fraction)
            draw.rectangle(
                [x(i) - inner_w / steps * 0.4, top, x(i) + inner_w / steps * 0.4, PAD + inner_h],
                fill=(70, 60, 110),
            )
    for other in SCHEDULES:
        if other != schedule:
            faint = planned_timesteps(other, steps, scheduler)
            draw.line(
                [(x(i), PAD + inner_h * (1 - t / 1000)) for i, t in enumerate(faint)],
                fill=(90, 80, 60),
            )
    points = [(x(i), PAD + inner_h * (1 - t / 1000)) for i, t in enumerate(timesteps)]
    draw.line(points, fill=(216, 180, 106), width=2)
    for i, point in enumerate(points):
        unguided = guided is not None and i >= guided
        draw.ellipse(
            [point[0] - 3, point[1] - 3, point[0] + 3, point[1] + 3],
            fill=(120, 120, 120) if unguided else (216, 180, 106),
        )
    if merge_step is not None and merge_step + 1 < steps:
        starts = x(merge_step + 1) - inner_w / steps / 2
        draw.line([(starts, PAD), (starts, PAD + inner_h)], fill=(80, 200, 160))
    draw.text(
        (PAD, 8),
        "timestep (line; grey = no guidance)  active pixels (bars)  identity starts (green)",
        fill=(200, 200, 200),
    )
    draw.text(
        (PAD, HEIGHT - PAD + 8),
        f"{schedule}, {steps} steps: {timesteps[0]:g} … {timesteps[-1]:g} "
        f"(faint: {', '.join(s for s in SCHEDULES if s != schedule)})",
        fill=(150, 150, 150),
    )
    return image


def planned_timesteps(schedule: str, steps: int, scheduler: str = "dpmpp_2m") -> list[float]:
    """The timesteps a run will visit, from SDXL's own scheduler configuration."""
    import torch

    from core.diffusion.denoise import make_scheduler
    from core.modelkit.tiny import SCHEDULER

    made = make_scheduler(scheduler, dict(SCHEDULER), schedule, steps, torch.device("cpu"))
    return made.timesteps.tolist()
