"""The schedule plot draws the chosen schedule and where identity joins."""

import numpy as np
import pytest

from workbench.plots import HEIGHT, PAD, WIDTH, planned_timesteps, schedule_plot

GREEN = (80, 200, 160)


def test_each_schedule_draws_its_own_curve() -> None:
    plots = {name: schedule_plot(20, schedule=name).tobytes() for name in SCHEDULES}
    assert len(set(plots.values())) == 3


def test_planned_timesteps_follow_the_schedule() -> None:
    assert planned_timesteps("ays", 10) == [999, 845, 730, 587, 443, 310, 193, 116, 53, 13]
    assert planned_timesteps("default", 10) != planned_timesteps("ays", 10)


@pytest.mark.parametrize("merge", [0, 4])
def test_identity_line_sits_after_the_last_text_only_step(merge: int) -> None:
    steps = 10
    pixels = np.asarray(schedule_plot(steps, merge_step=merge))
    columns = np.where((pixels[PAD + 5 : HEIGHT - PAD - 5] == GREEN).all(-1).any(0))[0]
    step_width = (WIDTH - 2 * PAD) / steps
    assert columns.size and abs(columns.mean() - (PAD + step_width * (merge + 1))) <= 1.5


SCHEDULES = ("ays", "ays-sigmas", "default")
