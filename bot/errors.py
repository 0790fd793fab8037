"""One place that turns what went wrong into the short, private reply a user sees."""

from __future__ import annotations

import logging

from discord import app_commands

from core.errors import CapacityError, NarcisError, UserInputError

log = logging.getLogger("narcis.bot")


class NotOperator(app_commands.CheckFailure):
    """The command or button is for operators only."""


class NotYours(app_commands.CheckFailure):
    """A result's buttons are for whoever asked for it, and operators."""


class CoolingDown(app_commands.CheckFailure):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"cooling down for {seconds:.0f} s")
        self.seconds = seconds


def error_message(error: Exception) -> str:
    original = getattr(error, "original", error)  # CommandInvokeError wraps the real one
    if isinstance(original, NotOperator):
        return "Only operators (the operators role) can use this command."
    if isinstance(original, NotYours):
        return "Only the person who asked for this portrait, or an operator, can do that."
    if isinstance(original, CoolingDown):
        return f"Slow down: you can use this again in {max(1, round(original.seconds))} s."
    if isinstance(original, app_commands.CommandOnCooldown):
        return f"Slow down: you can use this again in {original.retry_after:.0f} s."
    if isinstance(original, CapacityError | UserInputError):
        return str(original)
    if isinstance(original, NarcisError):
        return f"That did not work: {original}"
    log.error("unexpected error in a command", exc_info=original)
    return "Sorry, something went wrong on our side. The operators have the details."
