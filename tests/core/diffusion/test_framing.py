"""The framing prior: where a face is placed when stage 1 painted none we can find."""

import pytest
import torch

from core.diffusion.framing import CLOSE_UP, FULL_FIGURE, PORTRAIT, framing_of, place_face
from core.diffusion.references import Reference


def reference(aspect: float, height: float) -> Reference:
    pixels = torch.zeros(3, 4, 4)
    return Reference("photo", pixels, None, None, None, face_shape=(aspect, height))


SIZES = [(1024, 1024), (832, 1216), (1216, 832), (64, 2048), (2048, 64)]
PROMPTS = ["byzantine emperor, gold mosaic", "close-up headshot", "full body, from afar"]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("prompt", PROMPTS)
@pytest.mark.parametrize("shape", [(0.6, 0.9), (1.0, 0.05), (0.78, 0.3)])
def test_the_placed_face_lies_inside_the_picture(size, prompt, shape) -> None:
    x0, y0, x1, y1 = place_face(size, prompt, [reference(*shape)])
    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1
    assert abs((x0 + x1) / 2 - 0.5) < 1e-3  # centred across
    assert (y0 + y1) / 2 < 0.6  # the head is in the upper part


def test_the_placed_face_scales_with_the_references() -> None:
    def size_of(*references: Reference) -> tuple[float, float]:
        x0, y0, x1, y1 = place_face((1024, 1024), "a portrait", list(references))
        return x1 - x0, y1 - y0

    far, near = size_of(reference(0.78, 0.15)), size_of(reference(0.78, 0.45))
    assert near[0] > far[0] and near[1] > far[1]  # a close selfie: a closer portrait
    narrow, wide = size_of(reference(0.65, 0.3)), size_of(reference(0.95, 0.3))
    assert narrow[1] == wide[1] and wide[0] / narrow[0] == pytest.approx(0.95 / 0.65, rel=0.01)
    # several references: their mean
    assert size_of(reference(0.78, 0.15), reference(0.78, 0.45)) == size_of(reference(0.78, 0.3))


def test_the_prompts_framing_words_set_the_size() -> None:
    assert framing_of("Extreme close-up of a face") is CLOSE_UP
    assert framing_of("a knight, full body, standing") is FULL_FIGURE
    assert framing_of("byzantine emperor") is PORTRAIT
    refs = [reference(0.78, 0.3)]
    heights = [place_face((1024, 1024), p, refs) for p in ("close-up", "portrait", "full body")]
    assert [b[3] - b[1] for b in heights] == sorted((b[3] - b[1] for b in heights), reverse=True)
    wide = place_face((2048, 1024), "portrait", refs)
    square = place_face((1024, 1024), "portrait", refs)
    # the same head in a wider picture: as tall, half as wide in fractions
    assert wide[3] - wide[1] == square[3] - square[1]
    assert wide[2] - wide[0] == pytest.approx((square[2] - square[0]) / 2, abs=1e-3)


def test_no_references_still_place_a_face() -> None:
    x0, y0, x1, y1 = place_face((1024, 1024), "portrait", [])
    assert x1 - x0 == pytest.approx(0.3 * 0.78, abs=1e-3) and y1 - y0 == pytest.approx(0.3)
