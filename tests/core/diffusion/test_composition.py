import pytest
import torch

from core.diffusion.composition import CompositionStage
from core.diffusion.params import CompositionParams
from core.errors import Cancelled
from tests.helpers import UNetRecorder

SMALL = dict(prompt="a byzantine emperor, gold mosaic", width=64, height=64, steps=5)


@pytest.fixture
def recorded(components):
    recorder = UNetRecorder(components.unet)
    original = components.unet
    components.unet = recorder
    yield recorder
    components.unet = original


def test_guidance_cutoff_runs_the_last_fifth_at_batch_one(components, recorded) -> None:
    CompositionStage(components)(CompositionParams(**SMALL | {"steps": 20}))
    assert recorded.batches == [2] * 16 + [1] * 4


def test_no_guidance_runs_every_step_at_batch_one(components, recorded) -> None:
    CompositionStage(components)(CompositionParams(**SMALL, guidance_scale=1.0))
    assert recorded.batches == [1] * 5


def test_same_seed_gives_the_identical_image(components) -> None:
    stage = CompositionStage(components)
    first = stage(CompositionParams(**SMALL, seed=3))
    second = stage(CompositionParams(**SMALL, seed=3))
    assert first.image.tobytes() == second.image.tobytes()
    assert torch.equal(first.latents, second.latents)


def test_another_seed_gives_another_image(components) -> None:
    stage = CompositionStage(components)
    first = stage(CompositionParams(**SMALL, seed=3))
    other = stage(CompositionParams(**SMALL, seed=4))
    assert first.image.tobytes() != other.image.tobytes()


def test_prompt_changes_the_image(components) -> None:
    stage = CompositionStage(components)
    first = stage(CompositionParams(**SMALL))
    other = stage(CompositionParams(**SMALL | {"prompt": "a ranch girl at dawn"}))
    assert not torch.equal(first.latents, other.latents)


def test_result_carries_size_latents_and_params(components) -> None:
    params = CompositionParams(**SMALL | {"width": 72})
    result = CompositionStage(components)(params)
    assert result.image.size == (72, 64)
    assert result.latents.shape == (1, 4, 8, 9)
    assert result.params == params


def test_progress_reports_every_step(components) -> None:
    events = []
    CompositionStage(components)(CompositionParams(**SMALL), on_step=events.append)
    assert [(e.stage, e.step, e.total) for e in events] == [
        ("composition", i, 5) for i in range(1, 6)
    ]


def test_cancellation_stops_between_steps(components, recorded) -> None:
    events = []
    with pytest.raises(Cancelled):
        CompositionStage(components)(
            CompositionParams(**SMALL), on_step=events.append, should_stop=lambda: len(events) >= 2
        )
    assert len(recorded.batches) == 2


def test_overlong_prompt_is_reported(components) -> None:
    long_prompt = ", ".join(["ornate golden byzantine mosaic"] * 20)
    result = CompositionStage(components)(CompositionParams(**SMALL | {"prompt": long_prompt}))
    assert result.warnings and "77-token" in result.warnings[0]


@pytest.mark.parametrize("schedule", ["ays", "ays-sigmas", "default"])
def test_the_unet_sees_the_chosen_schedule(schedule, components, recorded) -> None:
    from core.diffusion.denoise import make_scheduler

    expected = make_scheduler("dpmpp_2m", components.scheduler_config, schedule, 10, "cpu")
    CompositionStage(components)(CompositionParams(**SMALL | {"steps": 10}, schedule=schedule))
    assert recorded.timesteps == expected.timesteps.tolist()


def test_schedules_give_different_pictures(components) -> None:
    stage = CompositionStage(components)
    images = {
        stage(CompositionParams(**SMALL, schedule=name)).image.tobytes()
        for name in ("ays", "ays-sigmas", "default")
    }
    assert len(images) == 3
