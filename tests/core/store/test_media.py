import asyncio
import io

import boto3
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image

from core.errors import UserInputError
from core.store.derivatives import make_derivatives, make_thumbhash, widths_for
from core.store.media import LocalMedia, MediaNotFound, ObjectMedia, content_key
from tests.services import free_port


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3-compatible server on loopback."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="narcis-media")
    yield endpoint
    server.stop()


@pytest.fixture(params=["local", "s3"])
def media(request, tmp_path):
    if request.param == "local":
        return LocalMedia(tmp_path / "media")
    endpoint = request.getfixturevalue("s3_endpoint")
    return ObjectMedia(
        "narcis-media",
        endpoint=endpoint,
        access_key="test",
        secret_key="test",
        prefix=tmp_path.name,
    )


def test_put_get_exists_keys_delete(media) -> None:
    async def go():
        await media.put("portraits/j1/final.png", b"png!", "image/png")
        await media.put("portraits/j1/320.avif", b"avif", "image/avif")
        assert await media.get("portraits/j1/final.png") == b"png!"
        assert await media.exists("portraits/j1/320.avif")
        assert await media.keys("portraits/j1") == [
            "portraits/j1/320.avif",
            "portraits/j1/final.png",
        ]
        await media.put("portraits/j1/final.png", b"again", "image/png")  # overwrite, not add
        assert await media.get("portraits/j1/final.png") == b"again"
        await media.delete("portraits/j1")
        assert await media.keys("portraits/j1") == []
        with pytest.raises(MediaNotFound):
            await media.get("portraits/j1/final.png")

    asyncio.run(go())


@pytest.mark.parametrize(
    "key", ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", ".hidden", "faces/x/../../../root"]
)
def test_keys_cannot_escape_the_store(tmp_path, key: str) -> None:
    with pytest.raises(UserInputError, match="invalid media key"):
        asyncio.run(LocalMedia(tmp_path).get(key))


def test_local_writes_are_atomic(tmp_path) -> None:
    media = LocalMedia(tmp_path)
    asyncio.run(media.put("a/b.bin", b"x" * 1000, "application/octet-stream"))
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.bin"]  # no temporary left


def test_content_keys_depend_on_content_only() -> None:
    assert content_key("faces", b"abc", "png") == content_key("faces", b"abc", "png")
    assert content_key("faces", b"abc", "png") != content_key("faces", b"abd", "png")
    assert content_key("faces", b"abc", "png").startswith("faces/ba/ba7816bf")


def test_derivatives_three_widths_three_formats(astronaut) -> None:
    big = astronaut.resize((1200, 1200))
    made = make_derivatives(big)
    assert sorted({d.width for d in made}) == [320, 640, 1024]
    assert {d.extension for d in made} == {"avif", "webp", "jpg"}
    for d in made:
        decoded = Image.open(io.BytesIO(d.data))
        assert decoded.size == (d.width, d.height)
        assert decoded.format == {"avif": "AVIF", "webp": "WEBP", "jpg": "JPEG"}[d.extension]
    assert widths_for(500) == [320] and widths_for(200) == [200]


def test_thumbhash_is_short_and_stable(astronaut) -> None:
    first, second = make_thumbhash(astronaut), make_thumbhash(astronaut.copy())
    assert first == second and 20 <= len(first) <= 40
    assert make_thumbhash(Image.new("RGB", (64, 64), "red")) != first
