"""Who may run what, and how often: checks that slash commands declare."""

from __future__ import annotations

import time

import discord
from discord import app_commands

from bot.errors import CoolingDown, NotOperator

OPERATOR_ROLE = "operators"


def is_operator(member: discord.abc.User, role: str = OPERATOR_ROLE) -> bool:
    return any(r.name == role for r in getattr(member, "roles", []))


def operators_only():
    def predicate(interaction: discord.Interaction) -> bool:
        role = getattr(interaction.client, "operator_role", OPERATOR_ROLE)
        if not is_operator(interaction.user, role):
            raise NotOperator()
        return True

    return app_commands.check(predicate)


class Cooldowns:
    """Per user and command: at most one use every `seconds`."""

    def __init__(self) -> None:
        self._last: dict[tuple[int, str], float] = {}

    def hit(self, user_id: int, command: str, seconds: float) -> None:
        now = time.monotonic()
        last = self._last.get((user_id, command))
        if last is not None and now - last < seconds:
            raise CoolingDown(seconds - (now - last))
        self._last[(user_id, command)] = now


def cooldown(seconds: float):
    def predicate(interaction: discord.Interaction) -> bool:
        interaction.client.cooldowns.hit(interaction.user.id, interaction.command.name, seconds)
        return True

    return app_commands.check(predicate)
