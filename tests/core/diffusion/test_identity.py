"""Stage 2 on tiny models: the differential-diffusion algorithm and identity conditioning."""

import itertools

import numpy as np
import pytest
import torch

from core.diffusion.crop import crop, face_crop_box
from core.diffusion.denoise import make_scheduler, time_ids
from core.diffusion.faces import choose_face
from core.diffusion.identity import IdentityRequest
from core.diffusion.masks import step_masks, to_latent
from core.diffusion.params import IdentityParams
from core.diffusion.vae import encode, initial_noise, to_tensor
from core.errors import Cancelled, ModelError, UserInputError
from tests.helpers import use_recorder

SIZE = 128
STEPS = 6


@pytest.fixture(scope="module")
def stage(portrait_pipeline):
    return portrait_pipeline.identity


@pytest.fixture(scope="module")
def references(portrait_pipeline, astronaut):
    return portrait_pipeline.references([("astronaut.png", astronaut)])


@pytest.fixture(scope="module")
def face_crop(astronaut, analyzer):
    face = choose_face(analyzer.detect(astronaut), analyzer.min_score).face
    return crop(astronaut, face_crop_box(face, astronaut.size, 0.6, SIZE))


@pytest.fixture
def recorder(stage):
    rec = use_recorder(stage.components)
    yield rec
    stage.components.unet = rec.unet


def request(face_crop, references, change, **params) -> IdentityRequest:
    defaults = dict(steps=STEPS, crop_size=SIZE, scheduler="dpmpp_2m", seed=5)
    return IdentityRequest(
        crop=face_crop,
        references=references,
        prompt="byzantine emperor",
        change_map=change,
        class_word="woman",
        params=IdentityParams(**defaults | params),
    )


def ramp() -> np.ndarray:
    """Change rising from 0 (left) to 1 (right), so every keep value occurs."""
    return np.tile(np.linspace(0.0, 1.0, SIZE, dtype=np.float32), (SIZE, 1))


def renoised_original(stage, req):
    c = stage.components
    p = req.params
    scheduler = make_scheduler(p.scheduler, c.scheduler_config, p.schedule, p.steps, c.device)
    noiser = make_scheduler(
        p.scheduler, c.scheduler_config, p.schedule, p.steps, c.device, for_loop=False
    )
    original = encode(c, to_tensor(req.crop)).float()
    noise = initial_noise(tuple(original.shape), req.params.seed)
    return (
        original,
        scheduler,
        [noiser.add_noise(original, noise, t.reshape(1)) for t in noiser.timesteps],
    )


def test_each_step_reinserts_the_renoised_original_where_its_mask_holds(
    stage, face_crop, references, recorder
) -> None:
    req = request(face_crop, references, ramp(), guidance_scale=1.0)
    stage(req)
    _, _, renoised = renoised_original(stage, req)
    change = to_latent(req.change_map, SIZE // 8)
    masks = step_masks(change, STEPS)
    assert len(recorder.samples) == STEPS
    for i, sample in enumerate(recorder.samples):
        held = masks[i].expand_as(sample)
        assert torch.allclose(sample[held], renoised[i][held]), f"step {i}"
        if i > 0:
            assert not torch.allclose(sample[~held], renoised[i][~held])


def test_the_renoised_original_gets_cleaner_step_by_step(stage, face_crop, references) -> None:
    original, _, renoised = renoised_original(stage, request(face_crop, references, ramp()))
    distances = [float((r - original).std()) for r in renoised]
    assert all(a > b for a, b in itertools.pairwise(distances)), distances


def test_all_change_reproduces_a_plain_img2img_loop(stage, face_crop, references) -> None:
    req = request(
        face_crop,
        references,
        np.ones((SIZE, SIZE), np.float32),
        guidance_scale=1.0,
        style_strength=0.0,
    )
    result = stage(req)
    # The plain loop: noise the original to t0 once, then denoise with identity conditioning.
    _, scheduler, renoised = renoised_original(stage, req)
    c = stage.components
    prompt = "a woman img, byzantine emperor"
    from core.diffusion.photomaker.prompt import tokenize_identity_prompt
    from core.diffusion.text import encode_ids

    one = tokenize_identity_prompt(stage.tokenizer, prompt, stage.identity_token_count(req))
    two = tokenize_identity_prompt(stage.tokenizer_2, prompt, stage.identity_token_count(req))
    identity = stage.fuse_identity(encode_ids(c, one.ids, two.ids), one.class_mask, req)
    text_only = encode_ids(c, one.text_ids, two.text_ids)
    latents = renoised[0]
    with torch.no_grad(), stage.lora.fused():  # stage 2's UNet carries the LoRA
        for i, t in enumerate(scheduler.timesteps):
            cond = text_only if i <= req.params.start_merge_step else identity
            noise = c.unet(
                scheduler.scale_model_input(latents, t),
                t,
                encoder_hidden_states=cond.embeds,
                added_cond_kwargs={"text_embeds": cond.pooled, "time_ids": time_ids(SIZE, SIZE)},
            ).sample
            latents = scheduler.step(noise, t, latents).prev_sample
    assert torch.allclose(result.latents, latents, atol=1e-5)


def test_all_keep_returns_the_input(stage, face_crop, references) -> None:
    req = request(face_crop, references, np.zeros((SIZE, SIZE), np.float32))
    result = stage(req)
    assert torch.equal(result.latents, encode(stage.components, to_tensor(face_crop)).float())


def test_identity_joins_at_start_merge_step_and_never_in_the_unconditional_half(
    stage, face_crop, references, recorder
) -> None:
    req = request(face_crop, references, ramp(), steps=10, style_strength=30, guidance_cutoff=0.2)
    assert req.params.start_merge_step == 3
    stage(req)
    assert recorder.batches == [2] * 8 + [1] * 2
    negatives = [e[0] for e in recorder.embeds[:8]]
    positives = [e[-1] for e in recorder.embeds]
    text_only, identity = positives[0], positives[-1]
    assert all(torch.equal(n, negatives[0]) for n in negatives)  # the same negative throughout
    # Upstream's rule: text-only while i <= start_merge_step, so 4 text-only steps here.
    assert all(torch.equal(p, text_only) for p in positives[:4])
    assert all(torch.equal(p, identity) for p in positives[4:])
    assert not torch.equal(text_only, identity)
    assert not any(torch.equal(n, identity) for n in negatives)


def test_face_id_weight_repeats_references(stage, face_crop, references, recorder) -> None:
    stage(request(face_crop, references, ramp(), face_id_weight=1, style_strength=0))
    stage(request(face_crop, references, ramp(), face_id_weight=3, style_strength=0))
    # The last step of each run: step 0 is text-only even at style strength 0.
    once, thrice = recorder.embeds[STEPS - 1][-1], recorder.embeds[2 * STEPS - 1][-1]
    # Rows 2..3 hold the identity once; with three repeats rows 2..7 do.
    assert stage.identity_token_count(request(face_crop, references, ramp(), face_id_weight=3)) == 6
    assert torch.allclose(once[2:4], thrice[2:4], atol=1e-5)
    assert not torch.allclose(once[4:8], thrice[4:8])


def test_wrong_embedding_width_is_a_clear_error(stage, face_crop, references) -> None:
    wrong = [references[0].__class__(**{**references[0].__dict__, "embedding": torch.zeros(512)})]
    with pytest.raises(ModelError, match="needs a 128-d face embedding"):
        stage(request(face_crop, wrong, ramp()))


def test_schedulers_with_several_calls_per_step_are_refused(stage, face_crop, references) -> None:
    req = request(face_crop, references, ramp())
    bad = IdentityRequest(
        **{
            **req.__dict__,
            "params": IdentityParams.model_construct(
                **req.params.model_dump() | {"scheduler": "heun"}
            ),
        }
    )
    with pytest.raises(UserInputError, match="heun is not first-order"):
        stage(bad)


def test_progress_and_cancellation_in_stage_two(stage, face_crop, references, recorder) -> None:
    events = []
    with pytest.raises(Cancelled, match="identity cancelled"):
        stage(
            request(face_crop, references, ramp()),
            on_step=events.append,
            should_stop=lambda: len(events) == 3,
        )
    assert [(e.stage, e.step) for e in events] == [
        ("identity", 1),
        ("identity", 2),
        ("identity", 3),
    ]
    assert len(recorder.batches) == 3


def test_stage_two_runs_the_chosen_schedule(stage, face_crop, references, recorder) -> None:
    stage(request(face_crop, references, ramp(), schedule="ays-sigmas"))
    c = stage.components
    expected = make_scheduler("dpmpp_2m", c.scheduler_config, "ays-sigmas", STEPS, c.device)
    assert recorder.timesteps == expected.timesteps.tolist()
    assert (
        recorder.timesteps
        != make_scheduler("dpmpp_2m", c.scheduler_config, "ays", STEPS, c.device).timesteps.tolist()
    )
