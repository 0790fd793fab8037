"""Who may run what, and how often: checks that slash commands and buttons share.

Operator rights come from one role id in the settings (`NARCIS_DISCORD_OPERATOR_ROLE_ID`).
Role ids are unique across Discord, so a role that merely has the right name in some other
guild grants nothing.
"""

from __future__ import annotations

import time

import discord
from discord import app_commands

from bot.errors import CoolingDown, NotOperator

# Operator commands are hidden from members without this permission until a guild's admins
# grant them in Server Settings → Integrations; the role check below still decides.
OPERATOR_PERMISSIONS = discord.Permissions(manage_guild=True)


def is_operator(member: discord.abc.User, role_id: int | None) -> bool:
    return role_id is not None and any(r.id == role_id for r in getattr(member, "roles", []))


def operator_role_id(interaction: discord.Interaction) -> int | None:
    return interaction.client.services.settings.discord_operator_role_id


def require_operator(interaction: discord.Interaction) -> None:
    if not is_operator(interaction.user, operator_role_id(interaction)):
        raise NotOperator()


def operators_only():
    """A command for operators: hidden by default permissions, refused by role id."""

    def predicate(interaction: discord.Interaction) -> bool:
        require_operator(interaction)
        return True

    def decorate(command):
        command = app_commands.check(predicate)(command)
        command = app_commands.guild_only()(command)
        return app_commands.default_permissions(manage_guild=True)(command)

    return decorate


class Cooldowns:
    """Per user and action: at most one use every `seconds`."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], float] = {}

    def hit(self, user_id: int, action: str, seconds: float) -> None:
        now = time.monotonic()
        last = self._last.get((user_id, action))
        if last is not None and now - last < seconds:
            raise CoolingDown(seconds - (now - last))
        self._last[(user_id, action)] = now


def cooldown(seconds: float):
    def predicate(interaction: discord.Interaction) -> bool:
        interaction.client.cooldowns.hit(interaction.user.id, interaction.command.name, seconds)
        return True

    return app_commands.check(predicate)
