import itertools

import numpy as np
import pytest
import torch
from diffusers import DPMSolverMultistepScheduler

from core.diffusion.denoise import make_scheduler
from core.diffusion.schedule import (
    AYS_SDXL_ANCHORS,
    AYS_SDXL_SIGMAS,
    ays_sigmas,
    ays_timesteps,
    guided_step_count,
)
from core.errors import UserInputError
from core.modelkit.tiny import SCHEDULER


def test_ten_steps_give_the_anchors_exactly() -> None:
    assert ays_timesteps(10) == list(AYS_SDXL_ANCHORS)


@pytest.mark.parametrize("steps", range(4, 51))
def test_schedule_is_strictly_decreasing_with_the_right_length(steps: int) -> None:
    timesteps = ays_timesteps(steps)
    assert len(timesteps) == steps
    assert all(a > b for a, b in itertools.pairwise(timesteps))
    assert abs(timesteps[0] - 999) <= 1
    assert timesteps[-1] >= 1


def test_twenty_steps_match_the_published_interpolation() -> None:
    published = [
        999,
        923,
        853,
        795,
        741,
        674,
        608,
        537,
        470,
        403,
        341,
        281,
        224,
        178,
        140,
        107,
        74,
        49,
        25,
        13,
    ]
    assert all(abs(a - b) <= 1 for a, b in zip(ays_timesteps(20), published, strict=True))


def test_zero_steps_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ays_timesteps(0)


@pytest.mark.parametrize(
    ("steps", "cutoff", "guided"),
    [(20, 0.2, 16), (10, 0.2, 8), (4, 0.2, 4), (20, 0.0, 20), (20, 1.0, 0)],
)
def test_guided_step_count(steps: int, cutoff: float, guided: int) -> None:
    assert guided_step_count(steps, cutoff) == guided


def nvidia_loglinear_interp(t_steps: list[float], num_steps: int) -> np.ndarray:
    """NVIDIA's published helper, as written on the AYS page (reverse, interpolate, reverse)."""
    xs = np.linspace(0, 1, len(t_steps))
    ys = np.log(t_steps[::-1])
    new_ys = np.interp(np.linspace(0, 1, num_steps), xs, ys)
    return np.exp(new_ys)[::-1].copy()


@pytest.mark.parametrize("steps", [10, 20, 30, 40])
def test_ays_sigmas_follow_nvidias_recipe(steps: int) -> None:
    expected = nvidia_loglinear_interp(list(AYS_SDXL_SIGMAS), steps + 1)
    expected[-1] = 0.0
    assert np.allclose(ays_sigmas(steps), expected, rtol=1e-6)


def scheduler(name: str, schedule: str, steps: int):
    return make_scheduler(name, dict(SCHEDULER), schedule, steps, torch.device("cpu"))


@pytest.mark.parametrize("name", ["dpmpp_2m", "euler"])
def test_ays_sigmas_schedule_steps_between_the_exact_sigmas(name: str) -> None:
    s = scheduler(name, "ays-sigmas", 10)
    assert np.allclose(s.sigmas.numpy(), [*AYS_SDXL_SIGMAS[:-1], 0.0], rtol=1e-6)
    # The UNet sees the training timesteps nearest those sigmas: 999 … 13 like the AYS anchors.
    assert s.timesteps.tolist()[0] == 999 and abs(s.timesteps.tolist()[-1] - 13) <= 1


@pytest.mark.parametrize("steps", [20, 30, 40])
def test_the_two_ays_readings_differ_and_end_on_different_sigmas(steps: int) -> None:
    by_timesteps = scheduler("dpmpp_2m", "ays", steps).sigmas.numpy()[:-1]
    by_sigmas = scheduler("dpmpp_2m", "ays-sigmas", steps).sigmas.numpy()[:-1]
    assert np.median(np.abs(by_timesteps / by_sigmas - 1)) > 0.1
    assert by_timesteps[-1] > 1.5 * by_sigmas[-1]


def test_default_schedule_is_the_schedulers_own() -> None:
    own = DPMSolverMultistepScheduler.from_config(
        dict(SCHEDULER), algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero"
    )
    own.set_timesteps(20)
    ours = scheduler("dpmpp_2m", "default", 20)
    assert torch.equal(ours.timesteps, own.timesteps)
    assert ours.timesteps.tolist() != ays_timesteps(20)


def test_too_many_steps_for_ays_sigmas_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match="too many for the ays-sigmas schedule"):
        scheduler("dpmpp_2m", "ays-sigmas", 150)


def test_unknown_schedule_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown schedule 'karras'"):
        scheduler("dpmpp_2m", "karras", 10)
