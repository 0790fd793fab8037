"""The buttons under a result. Their ids carry the portrait id, so they keep working after the
bot restarts (discord.py's dynamic items)."""

from __future__ import annotations

import re
import uuid

import discord

from bot.formatting import parameters_text
from bot.guards import is_operator
from core.store.models import Portrait

ACTIONS = {
    "reroll": ("🎲", "Reroll"),
    "vary": ("🔀", "Variations"),
    "params": ("🧾", "Parameters"),
    "delete": ("🗑", "Delete"),
    "curate": ("🖼", "To the wall"),
}


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"narcis:(?P<action>[a-z]+):(?P<pid>[0-9a-f-]{36})",
):
    def __init__(self, action: str, portrait_id: str) -> None:
        emoji, label = ACTIONS[action]
        style = discord.ButtonStyle.danger if action == "delete" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"narcis:{action}:{portrait_id}"
            )
        )
        self.action, self.portrait_id = action, portrait_id

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match) -> ResultButton:
        return cls(match["action"], match["pid"])

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("Portraits")
        await cog.on_result_button(interaction, self.action, self.portrait_id)


def result_view(portrait_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ResultButton(action, portrait_id))
    return view


async def portrait_row(services, portrait_id: str) -> Portrait | None:
    async with services.db.session() as session:
        return await session.get(Portrait, uuid.UUID(portrait_id))


async def show_parameters(interaction: discord.Interaction, services, portrait_id: str) -> None:
    portrait = await portrait_row(services, portrait_id)
    text = parameters_text(portrait.parameters) if portrait else "That portrait is gone."
    await interaction.response.send_message(text, ephemeral=True)


def may_curate(interaction: discord.Interaction) -> bool:
    return is_operator(interaction.user, getattr(interaction.client, "operator_role", "operators"))
