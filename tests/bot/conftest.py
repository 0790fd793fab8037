import asyncio
import inspect

import pytest
from discord import app_commands

from tests.bot.fakes import FakeInteraction, FakeRole, FakeUser

OPERATOR_ROLE_ID = 555
OPERATOR = FakeUser(1, [FakeRole("operators", OPERATOR_ROLE_ID)], "op")
VISITOR = FakeUser(2, [], "visitor")
IMPOSTOR = FakeUser(3, [FakeRole("operators", 999)], "impostor")  # the name, in another guild


@pytest.fixture
def bot(stack):
    """The real bot and cog over a real Redis queue and database (no Discord connection)."""
    return make_bot(stack, stack.redis_url)


def bot_services(stack, redis_url: str):
    """The bot's real services over the test stack, with an operators role."""
    from bot.services import BotServices
    from core.config import load_settings
    from core.jobs.queue import JobQueue
    from core.store.db import Database

    settings = load_settings(
        data_dir=stack.root,
        database_url=stack.database_url,
        redis_url=redis_url,
        discord_operator_role_id=OPERATOR_ROLE_ID,
    )
    db = Database(stack.database_url)
    return BotServices(settings, db, stack.media, JobQueue(redis_url, db))


def make_bot(stack, redis_url: str):
    import asyncio

    from bot.app import NarcisBot
    from bot.batches import Batches
    from bot.commands import Portraits
    from bot.operators import Operators

    services = bot_services(stack, redis_url)
    client = NarcisBot(services)

    async def add_cogs() -> None:
        await client.add_cog(Portraits(client, services))
        await client.add_cog(Operators(client, services))
        await client.add_cog(Batches(client, services))

    asyncio.run(add_cogs())
    return client


def find_command(client, name: str) -> app_commands.Command:
    parts = name.split()
    command = client.tree.get_command(parts[0])
    for part in parts[1:]:
        command = command.get_command(part)
    return command


async def invoke(client, name: str, /, user: FakeUser = OPERATOR, interaction=None, **options):
    """What discord.py does with an incoming command: checks, callback, error handler."""
    interaction = interaction or FakeInteraction(client, user, name.split()[0])
    command = find_command(client, name)
    try:
        for check in command.checks:
            allowed = check(interaction)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                raise app_commands.CheckFailure()
        await command.callback(command.binding, interaction, **options)
    except Exception as error:
        await client.on_command_error(interaction, error)
    return interaction


async def confirmed(
    bot, command: str, yes: bool = True, channel=None, **options
) -> FakeInteraction:
    """Run a command that asks to confirm its cost, and answer it; then stop following what it
    started (what was submitted is what is checked, or what a restarted bot must finish)."""
    interaction = FakeInteraction(bot, OPERATOR, command, channel)
    task = asyncio.create_task(invoke(bot, command, interaction=interaction, **options))
    while not any(r.view for r in interaction.replies) and not task.done():
        await asyncio.sleep(0.05)
    view = next(r.view for r in interaction.replies if r.view)
    await view.decide(FakeInteraction(bot, OPERATOR, "confirm"), yes)
    await task
    for delivery in list(bot.get_cog("Portraits").deliveries):
        delivery.cancel()
    return interaction
