"""The buttons under a result. Their ids carry the portrait id and who asked for it, so they
keep working, and keep their rights, after the bot restarts (discord.py's dynamic items).

Who may press what: Parameters, anyone; Reroll, Variations and Delete, the person who asked
and operators; To the wall, operators. Reroll and Variations have a per-user cooldown.
"""

from __future__ import annotations

import re
import uuid

import discord

from bot.errors import NotYours
from bot.guards import is_operator, operator_role_id, require_operator
from core.store.models import Portrait

ACTIONS = {
    "reroll": ("🎲", "Reroll"),
    "vary": ("🔀", "Variations"),
    "params": ("🧾", "Parameters"),
    "delete": ("🗑", "Delete"),
    "curate": ("🖼", "To the wall"),
}
OWNER_OR_OPERATOR = frozenset({"reroll", "vary", "delete"})
COOLDOWN_S = {"reroll": 20.0, "vary": 20.0}


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"narcis:(?P<action>[a-z]+):(?P<pid>[0-9a-f-]{36})(?::(?P<owner>[0-9]+))?",
):
    def __init__(self, action: str, portrait_id: str, owner: int | None = None) -> None:
        emoji, label = ACTIONS.get(action, ("❔", "Unknown"))
        style = discord.ButtonStyle.danger if action == "delete" else discord.ButtonStyle.secondary
        custom_id = f"narcis:{action}:{portrait_id}" + ("" if owner is None else f":{owner}")
        super().__init__(
            discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=custom_id)
        )
        self.action, self.portrait_id, self.owner = action, portrait_id, owner

    @classmethod
    async def from_custom_id(cls, interaction, item, match: re.Match) -> ResultButton:
        owner = match["owner"]
        return cls(match["action"], match["pid"], None if owner is None else int(owner))

    async def callback(self, interaction: discord.Interaction) -> None:
        cog = interaction.client.get_cog("Portraits")
        await cog.on_result_button(interaction, self.action, self.portrait_id, self.owner)


def result_view(portrait_id: str, owner: int | None) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ResultButton(action, portrait_id, owner))
    return view


def button_rights(interaction: discord.Interaction, action: str, owner: int | None) -> None:
    """Refuse (by raising) a press its user may not make; takes no I/O, so it answers at once."""
    if action == "curate":
        require_operator(interaction)
    elif action in OWNER_OR_OPERATOR:
        mine = owner is not None and interaction.user.id == owner
        if not mine and not is_operator(interaction.user, operator_role_id(interaction)):
            raise NotYours()
    if action in COOLDOWN_S:
        interaction.client.cooldowns.hit(
            interaction.user.id, f"button:{action}", COOLDOWN_S[action]
        )


async def portrait_row(services, portrait_id: str | uuid.UUID) -> Portrait | None:
    async with services.db.session() as session:
        return await session.get(Portrait, uuid.UUID(str(portrait_id)))
