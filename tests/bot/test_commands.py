"""Slash commands against a real Redis queue, database and (where needed) a tiny-model worker.
Discord's servers are the only thing faked."""

import asyncio
import io
import itertools
import json
import uuid
from pathlib import Path

import pytest
from PIL import Image

from tests.bot.conftest import OPERATOR, VISITOR, invoke
from tests.bot.fakes import FakeAttachment, FakeChannel, FakeInteraction, png_attachment

SNAPSHOT = Path(__file__).parents[1] / "fixtures" / "bot_commands.json"
# The store is tested on both databases elsewhere; the bot's logic needs one.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def last_reply(interaction) -> str:
    return interaction.replies[-1].content


def test_command_tree_matches_the_snapshot(bot) -> None:
    tree = [command.to_dict(bot.tree) for command in bot.tree.get_commands()]
    names = sorted(c["name"] for c in tree)
    assert names == ["batch", "faces", "idea", "portrait", "preset", "set", "settings", "sweep"]
    assert tree == json.loads(SNAPSHOT.read_text())


def test_operator_commands_are_hidden_from_members_by_default(bot) -> None:
    tree = {c["name"]: c for c in (c.to_dict(bot.tree) for c in bot.tree.get_commands())}
    for name in ("batch", "faces", "preset", "set", "sweep"):
        assert tree[name]["default_member_permissions"] == 0x20, name  # manage guild
        assert tree[name]["dm_permission"] is False, name
    for name in ("idea", "portrait", "settings"):
        assert tree[name]["default_member_permissions"] is None, name


def test_portrait_end_to_end_delivers_a_file(bot, stack, astronaut) -> None:
    stack.start_worker()

    async def go():
        for parameter, value in (("restyle", "on"), ("production_mode", "off"), ("steps", "2")):
            await invoke(bot, "set", parameter=parameter, value=value, scope="user")
        channel = FakeChannel()
        interaction = FakeInteraction(bot, OPERATOR, "portrait", channel)
        await invoke(
            bot,
            "portrait",
            interaction=interaction,
            face=png_attachment(astronaut),
            idea="byzantine emperor",
            style="oil-painting",
            seed=7,
            count=1,
        )
        cog = bot.get_cog("Portraits")
        await asyncio.wait_for(asyncio.gather(*cog.deliveries), timeout=240)
        idea = await invoke(bot, "idea", idea="vampiric beauty", style=None)
        return interaction, channel, idea

    interaction, channel, idea = asyncio.run(go())
    assert "Painting **byzantine emperor**" in last_reply(interaction)
    progress, result = channel.messages
    assert progress.edits[-1].endswith("✅ done") and len(progress.edits) >= 2
    gaps = [b - a for a, b in itertools.pairwise(progress.edited_at)]
    assert min(gaps) >= 1.99  # at most one edit per 2 s in a channel
    assert result.file.filename == "byzantine-emperor-narcis.png"
    assert Image.open(io.BytesIO(result.file_bytes())).size == (512, 512)
    labels = [item.item.label for item in result.view.children]
    assert labels == ["Reroll", "Variations", "Parameters", "Delete", "To the wall"]
    assert "vampiric beauty" in last_reply(idea) and "**prompt**" in last_reply(idea)


@pytest.mark.parametrize(
    ("attachment", "message"),
    [
        (FakeAttachment("notes.txt", b"plain text", "text/plain"), "notes.txt is not an image"),
        (
            FakeAttachment("broken.png", b"\x89PNG not really"),
            "broken.png is not an image we can read",
        ),
        (FakeAttachment("huge.png", b"0" * (10 * 2**20 + 1)), "huge.png is over 10 MB"),
    ],
)
def test_bad_attachments_get_their_own_message(bot, attachment, message) -> None:
    interaction = asyncio.run(
        invoke(
            bot, "portrait", face=attachment, idea="pirate queen", style=None, seed=None, count=1
        )
    )
    assert message in last_reply(interaction) and interaction.replies[-1].ephemeral


def test_a_photo_without_a_face_is_refused(bot, camera) -> None:
    interaction = asyncio.run(
        invoke(
            bot,
            "portrait",
            face=png_attachment(camera, "cam.png"),
            idea="pirate queen",
            style=None,
            seed=None,
            count=1,
        )
    )
    assert "no face found in cam.png" in last_reply(interaction)


def test_operators_only_commands_refuse_others(bot) -> None:
    interaction = asyncio.run(
        invoke(bot, "set", user=VISITOR, parameter="steps", value="10", scope="user")
    )
    assert last_reply(interaction) == "Only operators (the operators role) can use this command."


def test_cooldown_has_its_own_message(bot, camera) -> None:
    async def twice():
        await invoke(
            bot, "portrait", face=png_attachment(camera), idea="a", style=None, seed=None, count=1
        )
        return await invoke(
            bot, "portrait", face=png_attachment(camera), idea="a", style=None, seed=None, count=1
        )

    assert last_reply(asyncio.run(twice())).startswith("Slow down: you can use this again in")


@pytest.mark.parametrize(
    ("parameter", "value", "message"),
    [
        ("steps", "0", "steps must be between 1 and 150, not 0"),
        ("guidance_scale", "lots", "guidance_scale must be a number, not 'lots'"),
        ("weight", "2.5", "weight must be between 0 and 2, not 2.5"),
        ("production_mode", "maybe", "production_mode is on or off, not 'maybe'"),
        ("sharpness", "3", "unknown parameter 'sharpness'"),
    ],
)
def test_invalid_set_values_are_explained(bot, parameter, value, message) -> None:
    interaction = asyncio.run(invoke(bot, "set", parameter=parameter, value=value, scope="user"))
    assert message in last_reply(interaction)


def test_set_and_settings_and_presets(bot) -> None:
    async def go():
        await invoke(bot, "set", parameter="guidance_scale", value="6.5", scope="user")
        shown = await invoke(bot, "settings")
        await invoke(bot, "preset save", name="soft")
        await invoke(bot, "set", parameter="guidance_scale", value="12", scope="user")
        await invoke(bot, "preset load", name="soft")
        again = await invoke(bot, "settings")
        listed = await invoke(bot, "preset list")
        return shown, again, listed

    shown, again, listed = asyncio.run(go())
    assert "`guidance_scale` = **6.5**" in last_reply(shown)
    assert "`guidance_scale` = **6.5**" in last_reply(again)
    assert last_reply(listed) == "soft"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("idea: pirate\nparameters:\n  sharpness: [1, 2]", "unknown parameter 'sharpness'"),
        (
            "idea: pirate\nparameters:\n  steps: [10, many]",
            "steps must be a whole number, not 'many'",
        ),
        (
            "idea: pirate\nparameters:\n  steps: [1, 2, 3, 4, 5]\n  guidance_scale: [1, 2, 3, 4]",
            "20 combinations; a sweep may have at most 16",
        ),
        ("idea: [unclosed", "not valid YAML"),
    ],
)
def test_bad_sweeps_are_refused_with_the_reason(bot, astronaut, config, message) -> None:
    interaction = asyncio.run(
        invoke(bot, "sweep", face=png_attachment(astronaut), config=config, file=None)
    )
    assert message in last_reply(interaction)


def test_save_reaction_and_curate_button(bot, stack) -> None:
    from types import SimpleNamespace

    import redis as sync_redis

    from core.store.db import Database
    from core.store.models import Portrait
    from core.store.wall import VERSION_KEY
    from tests.site.seed import seed_portraits

    async def go():
        (pid,) = await seed_portraits(Database(stack.database_url), stack.media, 1, curated=False)
        cog = bot.get_cog("Portraits")
        await bot.services.redis.set("narcis:bot:message:4242", pid)
        await cog.on_raw_reaction_add(SimpleNamespace(emoji="💾", message_id=4242))
        refused = FakeInteraction(bot, VISITOR, "curate")
        await cog.on_result_button(refused, "curate", pid, VISITOR.id)
        allowed = FakeInteraction(bot, OPERATOR, "curate")
        await cog.on_result_button(allowed, "curate", pid, VISITOR.id)
        shown = FakeInteraction(bot, VISITOR, "params")
        await cog.on_result_button(shown, "params", pid, None)
        db = Database(stack.database_url)
        async with db.session() as session:
            row = await session.get(Portrait, uuid.UUID(pid))
        await db.dispose()
        return row, refused, allowed, shown

    row, refused, allowed, shown = asyncio.run(go())
    assert row.saved and row.saved_from_message == "4242" and row.curated
    assert last_reply(refused) == "Only operators (the operators role) can use this command."
    assert refused.replies[-1].ephemeral
    assert last_reply(allowed) == "On the wall now."
    assert last_reply(shown) == "No parameters were recorded for this portrait."  # seeded bare
    assert int(sync_redis.Redis.from_url(stack.redis_url).get(VERSION_KEY)) == 1
