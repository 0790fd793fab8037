import io
import struct
import zlib

import pytest
from PIL import Image

from core.errors import UserInputError
from core.photos import MAX_BYTES, load_photo


def png_bytes(image: Image.Image, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **kwargs)
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming a huge size, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello, I am a text file", "photo.x is not an image we can read"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "photo.x is not an image we can read"),
        (bomb_png(20000, 20000), "photo.x has too many pixels"),
        (bomb_png(9000, 5000), "photo.x is 9000×5000 pixels; the limit is 40 megapixels"),
        (png_bytes(Image.new("RGB", (1, 1))), "photo.x is 1×1 pixels; it needs at least 64"),
        (b"\x00" * (MAX_BYTES + 1), "photo.x is 10.0 MB; the limit is 10 MB"),
    ],
)
def test_bad_photos_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(UserInputError) as caught:
        load_photo(data, "photo.x")
    assert str(caught.value).startswith(message)


def test_truncated_jpeg_is_refused(astronaut) -> None:
    buffer = io.BytesIO()
    astronaut.save(buffer, format="JPEG")
    with pytest.raises(UserInputError, match="truncated or corrupt"):
        load_photo(buffer.getvalue()[: len(buffer.getvalue()) // 2], "half.jpg")


def test_gif_is_refused_by_content_not_name() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, format="GIF")
    with pytest.raises(UserInputError, match=r"face\.png is a GIF file"):
        load_photo(buffer.getvalue(), "face.png")


def test_exif_orientation_is_applied_and_metadata_dropped() -> None:
    image = Image.new("RGB", (200, 100), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when shown
    exif[0x010F] = "SecretCam"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    loaded = load_photo(buffer.getvalue(), "phone.jpg")
    assert loaded.size == (100, 200)
    assert not loaded.getexif() and not loaded.info
