"""Answering in time: every command's first response within 1 s (Discord allows 3) even for
12-megapixel phone photos, and within 5 s with a clear message when Redis hangs."""

import asyncio
import io
import socket

import pytest
from PIL import Image

from tests.bot.conftest import OPERATOR, invoke, make_bot
from tests.bot.fakes import FakeAttachment, FakeInteraction

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FIRST_RESPONSE_S = 1.0
NOT_ANSWERING = "the queue is not answering, try again in a minute"


@pytest.fixture(scope="module")
def phone_photo(astronaut) -> FakeAttachment:
    """A 12-megapixel JPEG, as a phone sends it."""
    photo = Image.new("RGB", (4000, 3000), (90, 90, 100))
    photo.paste(astronaut.resize((3000, 3000), Image.Resampling.BICUBIC), (500, 0))
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=92)
    return FakeAttachment("phone.jpg", buffer.getvalue(), "image/jpeg")


@pytest.fixture
def hung_redis_url():
    """A server that accepts connections and never answers (like a stopped Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def timed(bot, command: str, **options) -> FakeInteraction:
    interaction = FakeInteraction(bot, OPERATOR, command)
    asyncio.run(invoke(bot, command.replace("_", " "), interaction=interaction, **options))
    return interaction


def test_first_response_within_a_second_for_a_12_megapixel_photo(bot, phone_photo) -> None:
    portrait = timed(
        bot, "portrait", face=phone_photo, idea="pirate queen", style=None, seed=1, count=1
    )
    saved = timed(
        bot,
        "faces_save",
        name="phone",
        photo=phone_photo,
        photo2=None,
        photo3=None,
        photo4=None,
    )
    for interaction in (portrait, saved):
        assert interaction.first_response_s <= FIRST_RESPONSE_S, interaction.replies
        assert interaction.response.deferred_ephemeral is True
    assert portrait.replies[-1].content.startswith("Painting **pirate queen** (1×)")
    assert saved.replies[-1].content == "Saved face set **phone** (1 photos)."


def test_first_response_within_a_second_for_a_batch_of_three_faces(bot, stack, astronaut):
    from tests.bot.fakes import png_attachment

    for name in ("ann", "bob", "cy"):
        timed(
            bot,
            "faces_save",
            name=name,
            photo=png_attachment(astronaut),
            photo2=None,
            photo3=None,
            photo4=None,
        )

    async def go():
        interaction = FakeInteraction(bot, OPERATOR, "batch")
        task = asyncio.create_task(
            invoke(
                bot,
                "batch",
                interaction=interaction,
                faces="ann, bob, cy",
                ideas="pirate, queen",
                per_input=1,
            )
        )
        while not interaction.replies:
            await asyncio.sleep(0.05)
        view = interaction.replies[-1].view
        await view.decide(FakeInteraction(bot, interaction.user, "confirm"), False)
        await task
        return interaction

    interaction = asyncio.run(go())
    assert interaction.first_response_s <= FIRST_RESPONSE_S
    assert "**6 portraits** (3 faces × 2 ideas × 1)" in interaction.replies[0].content
    assert interaction.replies[-1].content == "Batch cancelled."


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("settings", {}),
        ("set", {"parameter": "steps", "value": "10", "scope": "user"}),
        ("preset save", {"name": "soft"}),
        ("idea", {"idea": "pirate", "style": None}),
    ],
)
def test_a_hanging_redis_is_answered_within_five_seconds(stack, hung_redis_url, command, options):
    bot = make_bot(stack, hung_redis_url)
    interaction = asyncio.run(invoke(bot, command, **options))
    reply = interaction.replies[-1]
    assert reply.content == NOT_ANSWERING and reply.ephemeral
    assert interaction.first_response_s <= FIRST_RESPONSE_S
    assert reply.at - interaction.created_at <= 5.0


def test_a_portrait_with_a_hanging_redis_is_answered_within_five_seconds(
    stack, hung_redis_url, astronaut
) -> None:
    from tests.bot.fakes import png_attachment

    bot = make_bot(stack, hung_redis_url)
    interaction = asyncio.run(
        invoke(
            bot,
            "portrait",
            face=png_attachment(astronaut),
            idea="pirate",
            style=None,
            seed=1,
            count=1,
        )
    )
    reply = interaction.replies[-1]
    assert reply.content == NOT_ANSWERING and reply.ephemeral
    assert reply.at - interaction.created_at <= 5.0
