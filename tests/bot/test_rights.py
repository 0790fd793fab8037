"""Who may do what: operator rights by role id, result buttons for the requester and
operators, cooldowns, the per-user queue cap, and button ids the bot no longer knows."""

import asyncio
import re
import uuid

import pytest
from PIL import Image

from bot.buttons import ResultButton
from bot.parameters import DEFAULTS
from core.store.db import Database
from core.store.models import Job, Portrait
from tests.bot.conftest import IMPOSTOR, OPERATOR, VISITOR, invoke
from tests.bot.fakes import FakeChannel, FakeInteraction, FakeMessage, FakeUser

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
OWNER = FakeUser(4, [], "owner")


async def submitted(bot, stack, owner: FakeUser = OWNER) -> str:
    """A portrait job as /portrait would submit it (no worker needed to press its buttons)."""
    cog = bot.get_cog("Portraits")
    values = {**DEFAULTS, "guidance_scale": 5.5}
    key = await stack.store(Image.new("RGB", (64, 64)))
    spec = cog.spec([key], "pirate queen", "oil-painting", 11, values)
    return await bot.services.queue.submit_portrait(spec)


async def press(bot, user, action: str, pid: str, owner: int | None = OWNER.id):
    channel = FakeChannel()
    message = FakeMessage(channel, "result")
    interaction = FakeInteraction(bot, user, action, channel, message)
    await bot.get_cog("Portraits").on_result_button(interaction, action, pid, owner)
    return interaction


async def row(stack, model, pid: str):
    db = Database(stack.database_url)
    try:
        async with db.session() as session:
            return await session.get(model, uuid.UUID(pid))
    finally:
        await db.dispose()


async def stop_deliveries(bot) -> None:
    for task in list(bot.get_cog("Portraits").deliveries):
        task.cancel()
    await asyncio.sleep(0)


def test_a_visitor_may_not_delete_reroll_or_vary_someone_elses_portrait(bot, stack) -> None:
    async def go():
        pid = await submitted(bot, stack)
        answers = [await press(bot, VISITOR, a, pid) for a in ("delete", "reroll", "vary")]
        jobs = await bot.services.redis.hlen("narcis:bot:deliveries")
        return answers, await row(stack, Portrait, pid), jobs

    answers, portrait, jobs = asyncio.run(go())
    for interaction in answers:
        reply = interaction.replies[-1]
        assert reply.content.startswith("Only the person who asked for this portrait")
        assert reply.ephemeral and not interaction.message.deleted
    assert not portrait.hidden and jobs == 0


def test_the_requester_and_operators_may_use_the_buttons(bot, stack) -> None:
    async def go():
        pid = await submitted(bot, stack)
        mine = await press(bot, OWNER, "vary", pid)
        again = await press(bot, OWNER, "vary", pid)  # within the cooldown
        theirs = await press(bot, OPERATOR, "reroll", pid)
        deleted = await press(bot, OPERATOR, "delete", pid)
        await stop_deliveries(bot)
        return mine, again, theirs, deleted, await row(stack, Portrait, pid)

    mine, again, theirs, deleted, portrait = asyncio.run(go())
    assert mine.replies[-1].content == "On it." and mine.replies[-1].ephemeral
    assert again.replies[-1].content.startswith("Slow down: you can use this again in")
    assert theirs.replies[-1].content == "On it."
    assert deleted.replies[-1].content == "Deleted." and deleted.message.deleted
    assert portrait.hidden


def test_variations_and_rerolls_keep_the_originals_parameters(bot, stack) -> None:
    async def go():
        pid = await submitted(bot, stack)
        # the operator who clicks has very different settings of their own
        await invoke(bot, "set", parameter="guidance_scale", value="20", scope="user")
        await invoke(bot, "set", parameter="style", value="none", scope="user")
        before = set(await bot.services.redis.hkeys("narcis:bot:deliveries"))
        await press(bot, OPERATOR, "vary", pid)
        await press(bot, OPERATOR, "reroll", pid)
        after = set(await bot.services.redis.hkeys("narcis:bot:deliveries")) - before
        await stop_deliveries(bot)
        original = (await row(stack, Job, pid)).spec
        return original, [(await row(stack, Job, j.decode())).spec for j in sorted(after)]

    original, (vary, reroll) = asyncio.run(go())
    for spec in (vary, reroll):
        assert spec["style"] == "oil-painting" and spec["references"] == original["references"]
        assert spec["overrides"]["composition"]["guidance_scale"] == 5.5
    assert vary["seed"] == original["seed"] == 11
    assert vary["overrides"]["identity"]["seed"] != original["overrides"]["identity"].get("seed")
    assert reroll["seed"] != 11


def test_operator_rights_follow_the_role_id_not_its_name(bot) -> None:
    async def go():
        refused = [
            await invoke(bot, "preset load", user=user, name="soft") for user in (VISITOR, IMPOSTOR)
        ]
        sweep = await invoke(bot, "sweep", user=IMPOSTOR, face=None, config="x", file=None)
        return refused, sweep

    refused, sweep = asyncio.run(go())
    for interaction in [*refused, sweep]:
        assert interaction.replies[-1].content == (
            "Only operators (the operators role) can use this command."
        )
        assert interaction.replies[-1].ephemeral


def test_nobody_is_an_operator_without_a_role_id(bot) -> None:
    bot.services.settings = bot.services.settings.model_copy(
        update={"discord_operator_role_id": None}
    )
    interaction = asyncio.run(invoke(bot, "preset list"))
    assert interaction.replies[-1].content.startswith("Only operators")


def test_a_users_queue_is_capped(bot, stack, astronaut) -> None:
    from tests.bot.fakes import png_attachment

    bot.services.settings = bot.services.settings.model_copy(update={"discord_queue_cap": 3})

    async def go():
        cog = bot.get_cog("Portraits")
        cog.in_flight[OPERATOR.id] |= {"a", "b"}
        return await invoke(
            bot, "portrait", face=png_attachment(astronaut), idea="a", style=None, seed=1, count=2
        )

    reply = asyncio.run(go()).replies[-1]
    assert reply.content.startswith("you have 2 portraits on the way (at most 3 at once)")


def test_unknown_button_ids_are_answered_not_raised(bot, stack) -> None:
    async def go():
        pid = await submitted(bot, stack)
        pattern = ResultButton.__discord_ui_compiled_template__
        match = re.fullmatch(pattern, f"narcis:teleport:{pid}:4")
        button = await ResultButton.from_custom_id(None, None, match)
        return button, await press(bot, OPERATOR, "teleport", pid)

    button, pressed = asyncio.run(go())
    assert button.item.label == "Unknown"
    assert pressed.replies[-1].content == "That button is no longer supported."
