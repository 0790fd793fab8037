"""Upload checks are bounded (issue 14): a downscaled copy for detection, a CPU budget per
request, and a huge-but-tiny PNG costs seconds, not the 44 s and 2.4 GB it did."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from photowall.checks import PhotoChecker, downscaled
from PIL import Image

from core.errors import UserInputError
from tests.site.client import png
from tests.site.test_live import twelve_megapixels


def test_faces_are_looked_for_on_at_most_one_megapixel() -> None:
    small = downscaled(Image.new("RGB", (4000, 3000)))
    assert small.width * small.height <= 1_000_000 and small.size == (1154, 866)
    assert downscaled(Image.new("RGB", (640, 480))).size == (640, 480)


def test_a_request_over_its_cpu_budget_is_refused_clearly(astronaut) -> None:
    checker = PhotoChecker(workers=1, budget_s=0.05)
    try:
        with pytest.raises(UserInputError, match="take too long to check"):
            asyncio.run(checker.check([(twelve_megapixels(astronaut), "photo 1 (phone.jpg)")]))
    finally:
        checker.close()


def test_a_12_megapixel_photo_is_checked_and_stored_at_a_bounded_size(astronaut) -> None:
    checker = PhotoChecker(workers=1)
    try:
        (cleaned,) = asyncio.run(checker.check([(twelve_megapixels(astronaut), "phone.jpg")]))
    finally:
        checker.close()
    assert max(Image.open(io.BytesIO(cleaned)).size) <= 2048


@pytest.mark.serial
def test_a_huge_black_png_is_refused_in_seconds(site) -> None:
    black = png(Image.new("RGB", (6300, 6300)))
    assert len(black) < 200_000
    start = time.monotonic()
    response = site.make([("black.png", black)])
    took = time.monotonic() - start
    assert response.status_code == 400 and "no face found in photo 1" in response.text
    assert took < 15, took  # main: 44 s


def test_the_pixel_limit_counts_what_is_decoded(astronaut) -> None:
    """A 48 MP phone JPEG is decoded at a quarter of its pixels, and passes (main refused it);
    a 40 MP PNG has no such shortcut and is still refused above the limit."""
    canvas = Image.new("RGB", (8000, 6000), (90, 90, 90))
    canvas.paste(astronaut.resize((6000, 6000)), (1000, 0))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=70)
    checker = PhotoChecker(workers=1)
    try:
        (cleaned,) = asyncio.run(checker.check([(buffer.getvalue(), "phone.jpg")]))
        with pytest.raises(UserInputError, match="the limit is 40 megapixels"):
            asyncio.run(checker.check([(png(Image.new("L", (6400, 6400))), "big.png")]))
    finally:
        checker.close()
    assert max(Image.open(io.BytesIO(cleaned)).size) == 2048
