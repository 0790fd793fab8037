import itertools

import pytest

from core.diffusion.schedule import AYS_SDXL_ANCHORS, ays_timesteps, guided_step_count


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
