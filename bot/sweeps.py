"""`/sweep` configurations: YAML in, every combination out, refused with the reason if wrong.

idea: byzantine emperor
parameters:
  guidance_scale: [4, 8, 12]   # the first parameter runs across the columns (X)
  style: [none, oil-painting]  # the next ones down the rows (Y, …)

Combinations come in reading order (X fastest), so cell i sits at row i // columns.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import yaml

from bot.parameters import PARAMETERS
from core.errors import UserInputError
from core.prompt.hygiene import clean_idea

MAX_COMBINATIONS = 16


@dataclass(frozen=True)
class Sweep:
    idea: str
    axes: list[tuple[str, list[Any]]]

    @property
    def combinations(self) -> list[dict[str, Any]]:
        """Row by row: the last axis changes slowest, the first (X) fastest."""
        names = [name for name, _ in self.axes]
        slowest_first = itertools.product(*(v for _, v in reversed(self.axes)))
        return [dict(zip(names, reversed(values), strict=True)) for values in slowest_first]

    @property
    def columns(self) -> int:
        return len(self.axes[0][1])

    @property
    def labels(self) -> list[str]:
        return [", ".join(f"{k}={v}" for k, v in combo.items()) for combo in self.combinations]


def parse_sweep(text: str) -> Sweep:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserInputError(f"the sweep is not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise UserInputError("a sweep needs `idea:` and a `parameters:` mapping of lists")
    idea = clean_idea(str(data.get("idea", "")))
    axes = []
    for name, values in data["parameters"].items():
        if name not in PARAMETERS:
            raise UserInputError(f"unknown parameter {name!r} (known: {', '.join(PARAMETERS)})")
        if not isinstance(values, list) or not values:
            raise UserInputError(f"{name} needs a list of values, like [4, 8]")
        axes.append((name, [PARAMETERS[name].parse(str(v)) for v in values]))
    if not axes:
        raise UserInputError("a sweep needs at least one parameter with a list of values")
    count = 1
    for _, values in axes:
        count *= len(values)
    if count > MAX_COMBINATIONS:
        raise UserInputError(f"{count} combinations; a sweep may have at most {MAX_COMBINATIONS}")
    return Sweep(idea, axes)
