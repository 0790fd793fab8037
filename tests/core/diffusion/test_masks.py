import itertools
import math

import numpy as np
import pytest
import torch
from PIL import Image

from core.diffusion.crop import crop, face_crop_box, paste_back
from core.diffusion.faces import choose_face
from core.diffusion.masks import face_change_map, step_masks, to_latent


@pytest.fixture(scope="module")
def face(astronaut, analyzer):
    return choose_face(analyzer.detect(astronaut), analyzer.min_score).face


def test_masks_are_nested_over_steps() -> None:
    change = torch.rand(1, 1, 16, 16)
    masks = step_masks(change, 10)
    assert masks.shape == (10, 1, 1, 16, 16)
    for earlier, later in itertools.pairwise(masks):
        assert torch.all(later <= earlier)  # once released, a pixel stays free


@pytest.mark.parametrize("steps", [4, 10, 20])
def test_a_pixel_follows_the_original_for_ceil_k_n_steps(steps: int) -> None:
    keep = torch.tensor([0.0, 0.05, 0.1, 0.25, 0.5, 0.51, 0.99, 1.0])
    masks = step_masks((1 - keep).view(1, 1, 1, -1), steps)
    followed = masks.sum(0).flatten().tolist()
    assert followed == [math.ceil(k * steps) for k in keep.tolist()]


def test_change_map_is_solid_on_the_face_and_zero_at_the_border(astronaut, face) -> None:
    box = face_crop_box(face, astronaut.size, margin=0.6, size=256)
    change = face_change_map(face, box)
    cx, cy = box.to_crop(np.array([face.centre]))[0].round().astype(int)
    assert change[cy, cx] == 1.0
    assert change[0].max() == 0 and change[-1].max() == 0
    assert 0 < change.mean() < 0.6
    soft = change[(change > 0) & (change < 1)]
    assert soft.size > 100  # a feathered falloff, not a hard edge


def test_more_dilation_changes_more_pixels(astronaut, face) -> None:
    box = face_crop_box(face, astronaut.size, margin=0.6, size=256)
    small = face_change_map(face, box, dilation=0.0)
    large = face_change_map(face, box, dilation=0.4)
    assert (large > 0).sum() > (small > 0).sum()


def test_latent_map_averages_to_one_eighth(astronaut, face) -> None:
    box = face_crop_box(face, astronaut.size, margin=0.6, size=256)
    latent = to_latent(face_change_map(face, box), 32)
    assert latent.shape == (1, 1, 32, 32) and latent.min() >= 0 and latent.max() <= 1


def test_crop_box_stays_inside_the_image(astronaut, face) -> None:
    box = face_crop_box(face, astronaut.size, margin=5.0, size=128)
    x0, y0, x1, y1 = box.box
    assert (x0, y0) >= (0, 0) and x1 <= 512 and y1 <= 512 and box.side == 512


def test_paste_back_keeps_every_pixel_outside_the_mask(astronaut, face) -> None:
    box = face_crop_box(face, astronaut.size, margin=0.6, size=256)
    change = face_change_map(face, box)
    refined = crop(astronaut, box).rotate(180)
    final = np.asarray(paste_back(astronaut, refined, change, box))
    base = np.asarray(astronaut)
    differs = (final != base).any(-1)
    assert differs.any()
    outside = np.ones(base.shape[:2], dtype=bool)
    x0, y0, x1, y1 = box.box
    region = np.asarray(Image.fromarray(change).resize((box.side, box.side)))
    outside[y0:y1, x0:x1] = region <= 0
    assert not differs[outside].any()
