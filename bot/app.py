"""The bot itself: gets its parts in the constructor, loads the commands in `setup_hook`,
and answers every command error with one private message."""

from __future__ import annotations

import asyncio
import logging

import discord
from discord.ext import commands

from bot.batches import Batches
from bot.buttons import ResultButton
from bot.commands import Portraits
from bot.errors import error_message
from bot.guards import Cooldowns
from bot.operators import Operators
from bot.services import BotServices

log = logging.getLogger("narcis.bot")


class NarcisBot(commands.Bot):
    def __init__(self, services: BotServices, *, test_guild: int | None = None) -> None:
        intents = discord.Intents.default()  # slash commands and reactions; no message content
        super().__init__(command_prefix=commands.when_mentioned, intents=intents)
        self.services, self.test_guild = services, test_guild
        self.cooldowns = Cooldowns()
        self.tree.on_error = self.on_command_error

    async def setup_hook(self) -> None:
        # Loading the face analyser holds the GIL for a second or more: pay that before the
        # first interaction, not in the middle of someone's /portrait (it stalls every answer).
        await asyncio.to_thread(lambda: self.services.face_analyzer)
        await self.add_cog(Portraits(self, self.services))
        await self.add_cog(Operators(self, self.services))
        await self.add_cog(Batches(self, self.services))
        self.add_dynamic_items(ResultButton)
        if self.test_guild is not None:  # development: commands appear at once in one guild
            guild = discord.Object(id=self.test_guild)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)

    async def on_command_error(self, interaction: discord.Interaction, error: Exception) -> None:
        message = error_message(error)
        try:
            if interaction.response.is_done():
                await interaction.followup.send(message, ephemeral=True)
            else:
                await interaction.response.send_message(message, ephemeral=True)
        except discord.HTTPException:
            log.warning("could not tell the user: %s", message)

    async def close(self) -> None:
        await super().close()
        await self.services.close()
