"""Checking an idea before it reaches a composer (and perhaps an LLM)."""

from __future__ import annotations

import re
import unicodedata

from core.errors import UserInputError

MAX_LENGTH = 60
_MARKUP = re.compile(r"[<>{}\[\]`|\\]|&[a-z]+;|https?://", re.IGNORECASE)
# Phrases that address a language model instead of describing a portrait.
_INSTRUCTIONS = re.compile(
    r"\b(ignore|disregard|forget|override)\b.*\b(instructions?|prompts?|rules?|above|previous)\b"
    r"|\bsystem prompt\b|\byou are (now|an?)\b|\bact as\b|\bjailbreak\b|\bnew instructions\b",
    re.IGNORECASE,
)


def clean_idea(raw: str) -> str:
    """The idea with whitespace normalised, or a UserInputError saying what is wrong."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in " \t" for ch in raw):
        raise UserInputError("the idea contains control characters; type plain words")
    idea = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not idea:
        raise UserInputError("the idea is empty; give one to four words, e.g. 'byzantine emperor'")
    if len(idea) > MAX_LENGTH:
        raise UserInputError(f"the idea is {len(idea)} characters; keep it under {MAX_LENGTH}")
    if _MARKUP.search(idea):
        raise UserInputError("the idea may not contain markup, links or brackets; type plain words")
    if _INSTRUCTIONS.search(idea):
        raise UserInputError("the idea reads like instructions; describe a portrait instead")
    return idea
