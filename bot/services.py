"""What the bot's commands use, built once from the settings and handed to the bot."""

from core.jobs.frontend import FrontEnd as BotServices

__all__ = ["BotServices"]
