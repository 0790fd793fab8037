"""What the agent returns: every intermediate, so the workbench and the bot can show it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

CATEGORIES = ("themes", "colors", "styles", "mediums", "subjects", "emotions", "time", "places")


class Draft(BaseModel):
    """A composer's work before styling and the token budget: concept and keywords."""

    model_config = ConfigDict(frozen=True)

    concept: str
    keywords: dict[str, list[str]]  # category → candidates, best first
    chosen: list[str]  # the most relevant, in prompt order
    negative: list[str] = Field(default_factory=list)  # extra things to avoid


class PromptResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int
    idea: str
    style: str
    seed: int
    backend: str  # "offline" or "llm:<model>"
    concept: str
    keywords: dict[str, list[str]]
    chosen: list[str]
    prompt: str
    negative_prompt: str
    warnings: list[str] = Field(default_factory=list)
