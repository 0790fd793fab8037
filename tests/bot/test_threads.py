"""The bot's photo checks, eight at once on three photo sizes (and a photo with no face), on the
one face analyser of its services: each answers what it answers alone. On the old shared dlib
analyser three overlapping checks crashed the bot (SIGSEGV, "free(): corrupted ...")."""

from __future__ import annotations

import asyncio
import io
from types import SimpleNamespace

import pytest

from tests.threads import in_child


def attachments() -> list:
    """A phone photo (3000² JPEG), a scanned PNG, a small JPEG, a photo without a face."""
    from PIL import Image
    from skimage import data

    from tests.bot.fakes import FakeAttachment

    def encoded(image: Image.Image, name: str, kind: str) -> FakeAttachment:
        buffer = io.BytesIO()
        image.save(buffer, format=kind, quality=92)
        return FakeAttachment(name, buffer.getvalue(), f"image/{kind.lower()}")

    astronaut = Image.fromarray(data.astronaut())
    camera = Image.fromarray(data.camera()).convert("RGB")
    return [
        encoded(astronaut.resize((3000, 3000), Image.Resampling.BICUBIC), "phone.jpg", "JPEG"),
        encoded(astronaut.resize((1400, 1400)), "scan.png", "PNG"),
        encoded(astronaut, "small.jpg", "JPEG"),
        encoded(camera, "camera.jpg", "JPEG"),
    ]


def photo_checker():
    """The bot's own `checked_photo` on the bot's own services object (only its analyser is
    used): an attachment → its PNG bytes, or the message that refuses it."""
    from bot.commands import Portraits
    from bot.services import BotServices
    from core.errors import UserInputError

    cog = SimpleNamespace(services=BotServices(None, None, None, None))

    async def outcome(attachment) -> bytes | str:
        try:
            return await Portraits.checked_photo(cog, attachment)
        except UserInputError as exc:
            return str(exc)

    return cog, outcome


def check_in_parallel(rounds: str) -> None:
    """In the child: each photo checked alone, then eight checks at a time, awaited together
    as overlapping commands are."""
    cog, outcome = photo_checker()

    async def main() -> None:
        photos = attachments()
        alone = [await outcome(a) for a in photos]
        assert isinstance(alone[0], bytes) and "no face found" in alone[3]
        for _ in range(int(rounds)):
            batch = [photos[i % len(photos)] for i in range(8)]
            results = await asyncio.gather(*(outcome(a) for a in batch))
            differing = [
                a.filename
                for i, (a, r) in enumerate(zip(batch, results, strict=True))
                if r != alone[i % len(photos)]
            ]
            assert not differing, f"{differing} differed from their checks alone"
        print(cog.services.face_analyzer.copies)

    asyncio.run(main())


@pytest.mark.timeout(240)
def test_eight_photo_checks_at_once_answer_as_each_alone() -> None:
    copies = in_child("tests.bot.test_threads:check_in_parallel", "3")
    assert 1 <= int(copies) <= 4
