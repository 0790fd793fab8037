"""Reading people's photos safely: real type by content, size limits, orientation, no metadata.

Used by every front end before anything is queued, and by the pipeline itself. No torch here.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import UserInputError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 64
FORMATS = frozenset({"JPEG", "PNG", "WEBP", "AVIF", "HEIF", "MPO"})


def read_photo(path: Path) -> Image.Image:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserInputError(f"{path} is a folder, not a photo") from None
    return load_photo(data, path.name)


def load_photo(data: bytes, name: str, max_side: int | None = None) -> Image.Image:
    """Decode `data` into an upright RGB image with no metadata, or say what is wrong.

    With `max_side`, the result is at most that long on its longer side: a JPEG is decoded at
    a reduced scale to begin with (a 12 MP photo costs a quarter of the work), and everything
    after decoding works on the small copy. The pixel limit counts what is decoded, so a
    48 MP phone JPEG decoded at 12 MP passes, and a 40 MP PNG costs 40 MP × 4 bytes at most."""
    if len(data) > MAX_BYTES:
        raise UserInputError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB"
        )
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise UserInputError(
            f"{name} has too many pixels (limit {MAX_PIXELS // 10**6} MP)"
        ) from None
    except ValueError as exc:  # Pillow's limit on compressed text chunks (a zip bomb)
        raise UserInputError(f"{name} carries a metadata chunk that is too large") from exc
    except (UnidentifiedImageError, OSError):
        raise UserInputError(f"{name} is not an image we can read (JPEG, PNG or WebP)") from None
    if max_side is not None and image.format in ("JPEG", "MPO"):
        image.draft("RGB", (max_side, max_side))
    _check_header(image, name)
    try:
        image.load()
    except ValueError as exc:
        raise UserInputError(f"{name} carries a metadata chunk that is too large") from exc
    except (OSError, SyntaxError):
        raise UserInputError(f"{name} is truncated or corrupt") from None
    if max_side is not None:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    upright = ImageOps.exif_transpose(image).convert("RGB")
    return Image.frombytes("RGB", upright.size, upright.tobytes())  # drops every metadata chunk


def clean_png(image: Image.Image) -> bytes:
    """The photo as stored: PNG, no metadata, fast to write (it is kept, not sent)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # fast: the photo is stored, not sent
    return buffer.getvalue()


def _check_header(image: Image.Image, name: str) -> None:
    if image.format not in FORMATS:
        raise UserInputError(f"{name} is a {image.format} file; use JPEG, PNG or WebP")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise UserInputError(
            f"{name} is {width}×{height} pixels; the limit is {MAX_PIXELS // 10**6} megapixels"
        )
    if min(width, height) < MIN_SIDE:
        raise UserInputError(
            f"{name} is {width}×{height} pixels; it needs at least {MIN_SIDE} pixels on each side"
        )
