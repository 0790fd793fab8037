"""What the site serves for each portrait: three widths in AVIF, WebP and JPEG, and a
thumbhash placeholder that paints instantly while they load."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import thumbhash
from PIL import Image

WIDTHS = (320, 640, 1024)
FORMATS = {
    "avif": ("AVIF", "image/avif", {"quality": 60}),
    "webp": ("WEBP", "image/webp", {"quality": 80, "method": 4}),
    "jpg": ("JPEG", "image/jpeg", {"quality": 85, "progressive": True, "optimize": True}),
}


@dataclass(frozen=True)
class Derivative:
    width: int
    height: int
    extension: str
    content_type: str
    data: bytes


def widths_for(width: int) -> list[int]:
    """The standard widths that do not upscale; the image's own width if it is smaller."""
    return [w for w in WIDTHS if w <= width] or [width]


def make_derivatives(image: Image.Image) -> list[Derivative]:
    rgb = image.convert("RGB")
    out = []
    for width in widths_for(rgb.width):
        height = round(rgb.height * width / rgb.width)
        resized = (
            rgb if width == rgb.width else rgb.resize((width, height), Image.Resampling.LANCZOS)
        )
        for extension, (fmt, content_type, options) in FORMATS.items():
            buffer = io.BytesIO()
            resized.save(buffer, format=fmt, **options)
            out.append(Derivative(width, height, extension, content_type, buffer.getvalue()))
    return out


def make_thumbhash(image: Image.Image) -> str:
    small = image.convert("RGBA")
    small.thumbnail((100, 100))
    rgba = small.tobytes()
    return base64.b64encode(
        bytes(thumbhash.rgba_to_thumb_hash(small.width, small.height, list(rgba)))
    ).decode()
