"""The curated vocabulary of the offline composer (lexicon.toml beside this file)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from core.prompt.result import CATEGORIES


@dataclass(frozen=True)
class Entry:
    text: str
    category: str
    tags: tuple[str, ...]


@cache  # two first callers may both parse it: harmless, the result is immutable
def load_lexicon() -> tuple[Entry, ...]:
    raw = tomllib.loads(files("core.prompt").joinpath("lexicon.toml").read_text("utf-8"))
    unknown = set(raw) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"lexicon.toml has unknown categories: {sorted(unknown)}")
    return tuple(
        Entry(text, category, tuple(tags.split()))
        for category in CATEGORIES
        for text, tags in raw[category].items()
    )


def tags() -> tuple[str, ...]:
    return tuple(sorted({t for entry in load_lexicon() for t in entry.tags}))
