"""`narcis bot`: the operators' Discord bot (token from NARCIS_DISCORD_TOKEN)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

import typer

from cli.common import settings


def bot(
    sync_global: Annotated[
        bool,
        typer.Option(
            help="publish the commands to every guild (slow to appear; do it once per release)"
        ),
    ] = False,
) -> None:
    """Run the Discord bot: /portrait, /idea, /set, /settings, /preset, /sweep, /batch."""
    import asyncio

    from bot.app import NarcisBot
    from bot.services import BotServices
    from core.config import require_real_secret
    from core.errors import ConfigError
    from core.logs import configure_json_logging

    config = settings()
    if config.discord_token is None:
        raise ConfigError(
            "NARCIS_DISCORD_TOKEN: set it to the bot's token from the Discord developer portal"
        )
    # The bot reaches the deployment's queue and database: a shared key signs what it trusts.
    require_real_secret(config, urlsplit(config.redis_url).hostname or "")
    configure_json_logging()
    client = NarcisBot(BotServices.build(config), test_guild=config.discord_guild_id)

    async def run() -> None:
        async with client:
            if sync_global:
                await client.login(config.discord_token.get_secret_value())
                await client.tree.sync()
            await client.start(config.discord_token.get_secret_value())

    asyncio.run(run())
