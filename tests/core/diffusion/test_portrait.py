"""The two-stage portrait end to end on tiny models, with a real face photo."""

import numpy as np
import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.errors import NoFaceError

PARAMS = PortraitParams(
    composition=CompositionParams(
        prompt="byzantine emperor, gold mosaic", width=64, height=64, steps=4
    ),
    identity=IdentityParams(steps=4, crop_size=128),
    face_retries=2,
)


@pytest.fixture(scope="module")
def references(portrait_pipeline, astronaut):
    return portrait_pipeline.references([("astronaut.png", astronaut)])


def test_final_equals_base_outside_the_mask_and_differs_inside(
    portrait_pipeline, references, astronaut
) -> None:
    result = portrait_pipeline.refine(astronaut, None, PARAMS, references)
    base, final = np.asarray(astronaut), np.asarray(result.final)
    differs = (base != final).any(-1)
    assert differs.any()
    # every changed pixel lies inside the crop's (dilated, feathered) map
    x_changed, y_changed = np.nonzero(differs.T)
    face = portrait_pipeline.analyzer.detect(astronaut)[0]
    x0, y0, x1, y1 = face.box
    side = max(x1 - x0, y1 - y0) * 2.2
    assert x_changed.min() > (x0 + x1) / 2 - side / 2 and x_changed.max() < (x0 + x1) / 2 + side / 2
    assert y_changed.min() > (y0 + y1) / 2 - side / 2 and y_changed.max() < (y0 + y1) / 2 + side / 2
    assert differs.mean() < 0.2
    mask = np.asarray(result.change_map)
    assert mask.shape == (128, 128) and mask.max() == 255 and mask[0, 0] == 0
    assert set(result.intermediates()) == {"base", "crop", "map", "refined", "final"}
    assert result.unet_batches == {"identity": [2, 2, 2, 2]}


def test_stage_one_without_a_face_retries_with_new_seeds_then_fails_when_placing_is_off(
    portrait_pipeline, references
) -> None:
    seen = []
    strict = PARAMS.model_copy(update={"place_face": False})
    with pytest.raises(NoFaceError, match=r"no face we could find in 3 tries; try another idea"):
        portrait_pipeline(strict, references, on_step=seen.append)
    assert [e.step for e in seen if e.stage == "composition"] == [1, 2, 3, 4] * 3


def test_stage_one_without_a_face_gets_a_placed_face_and_says_so(
    portrait_pipeline, references
) -> None:
    """The tiny models paint noise: no face in any try, so stage 2 runs on a placed face, on
    the last try's picture, and the parameters reproduce it."""
    seen = []
    result = portrait_pipeline(PARAMS, references, on_step=seen.append)
    assert [e.step for e in seen if e.stage == "composition"] == [1, 2, 3, 4] * 3
    assert [e.step for e in seen if e.stage == "identity"] == [1, 2, 3, 4]
    assert result.params.face == "placed" and result.params.composition.seed == 2
    x0, y0, x1, y1 = result.params.identity.face_box
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert any(n.startswith("face placed, not found") for n in result.notes)
    assert (np.asarray(result.final) != np.asarray(result.base)).any()
    again = portrait_pipeline(result.params, references)
    assert again.params == result.params and again.final.tobytes() == result.final.tobytes()


def test_a_reference_without_a_face_names_the_file(portrait_pipeline, camera) -> None:
    with pytest.raises(NoFaceError, match=r"no face found in camera\.png"):
        portrait_pipeline.references([("camera.png", camera)])


def test_refine_is_reproducible(portrait_pipeline, references, astronaut) -> None:
    first = portrait_pipeline.refine(astronaut, None, PARAMS, references)
    second = portrait_pipeline.refine(astronaut, None, PARAMS, references)
    assert first.final.tobytes() == second.final.tobytes()
    other = PARAMS.model_copy(update={"identity": PARAMS.identity.model_copy(update={"seed": 1})})
    third = portrait_pipeline.refine(astronaut, None, other, references)
    assert third.final.tobytes() != first.final.tobytes()


def test_base_without_face_is_a_clear_error_when_placing_is_off(
    portrait_pipeline, references
) -> None:
    strict = PARAMS.model_copy(update={"place_face": False})
    gray = Image.new("RGB", (256, 256), "gray")
    with pytest.raises(NoFaceError, match="no face found in the base image"):
        portrait_pipeline.refine(gray, None, strict, references)
    placed = portrait_pipeline.refine(gray, None, PARAMS, references)
    assert placed.params.face == "placed" and placed.params.identity.face_box is not None


def test_the_fast_tier_switches_its_lora_on_for_fast_portraits_only(
    portrait_pipeline, references, astronaut
) -> None:
    from core.diffusion.tiers import apply_tier

    assert portrait_pipeline.fast_tier is not None  # the tiny set ships a fast LoRA
    quality = portrait_pipeline.refine(astronaut, None, PARAMS, references)
    fast_params = apply_tier(PARAMS, "fast", keep_size=True).model_copy(
        update={"identity": PARAMS.identity}
    )  # same steps: only the LoRA differs
    fast = portrait_pipeline.refine(astronaut, None, fast_params, references)
    again = portrait_pipeline.refine(astronaut, None, PARAMS, references)
    assert fast.params.tier == "fast"
    assert fast.final.tobytes() != quality.final.tobytes()
    assert again.final.tobytes() == quality.final.tobytes()  # switched off again afterwards


def test_stage_two_previews_show_the_face_repainted_in_place_in_the_base(
    portrait_pipeline, references, astronaut
) -> None:
    """Not a close-up that jumps in: the whole picture, the base outside the crop, the face
    changing inside it."""
    import io

    from core.diffusion.crop import face_crop_box
    from core.diffusion.preview import Previewer, PreviewingListener

    events = []
    listener = PreviewingListener(events.append, Previewer(), every=1)
    result = portrait_pipeline.refine(astronaut, None, PARAMS, references, on_step=listener)
    shown = [Image.open(io.BytesIO(e.preview)).convert("RGB") for e in events if e.preview]
    assert len(shown) == 3 and listener.previews == 3  # steps 1-3 of 4; the final follows
    small_base = np.asarray(astronaut.resize((256, 256)), dtype=np.float32)
    face = portrait_pipeline.analyzer.detect(astronaut)[0]
    p = PARAMS.identity
    box = face_crop_box(face, astronaut.size, p.crop_margin, p.crop_size)
    x0, y0, x1, y1 = (round(v / 2) for v in box.box)  # 512² astronaut → 256² previews
    outside = np.ones((256, 256), bool)
    outside[y0:y1, x0:x1] = False
    x0, y0, x1, y1 = (round(v / 2) for v in face.box)
    inside = np.zeros((256, 256), bool)
    inside[y0:y1, x0:x1] = True
    for image in shown:
        assert image.size == (256, 256)  # the base's shape, not the 128² crop's
        pixels = np.asarray(image, dtype=np.float32)
        error = np.abs(pixels - small_base).mean(-1)
        assert error[outside].mean() < 4  # the base, but for WebP's loss
        assert error[inside].mean() > 10  # the face, being repainted
    assert len({im.tobytes() for im in shown}) == 3
    assert result.final.size == astronaut.size
