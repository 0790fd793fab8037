"""The prompt agent: a short idea → a portrait concept → keywords → an SDXL prompt."""

from core.prompt.agent import PromptAgent
from core.prompt.result import PromptResult
from core.prompt.styles import STYLES

__all__ = ["STYLES", "PromptAgent", "PromptResult"]
