"""The generation parameters `/set` may change, with their types and ranges, and how a stored
set turns into a portrait's parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, get_args

from redis.asyncio import Redis

from core.diffusion.params import ScheduleName
from core.errors import UserInputError
from core.prompt.styles import STYLES


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: type
    low: float | None = None
    high: float | None = None
    help: str = ""
    choices: tuple[str, ...] = ()  # for text parameters; the styles when empty

    def parse(self, text: str) -> Any:
        """The value typed in a slash command, checked; a clear error otherwise."""
        raw = text.strip().lower()
        if self.kind is bool:
            if raw in ("on", "true", "yes", "1"):
                return True
            if raw in ("off", "false", "no", "0"):
                return False
            raise UserInputError(f"{self.name} is on or off, not {text!r}")
        if self.kind is str:
            allowed = self.choices or tuple(STYLES)
            if raw not in allowed:
                raise UserInputError(f"{self.name} must be one of {', '.join(allowed)}")
            return raw
        try:
            value = self.kind(raw)
        except ValueError:
            kind = "a whole number" if self.kind is int else "a number"
            raise UserInputError(f"{self.name} must be {kind}, not {text!r}") from None
        if not self.low <= value <= self.high:
            raise UserInputError(
                f"{self.name} must be between {self.low:g} and {self.high:g}, not {value:g}"
            )
        return value


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        Parameter("guidance_scale", float, 1, 30, "stage-1 guidance"),
        Parameter("identity_guidance", float, 1, 30, "stage-2 guidance"),
        Parameter("steps", int, 1, 150, "denoising steps per stage"),
        Parameter(
            "weight", float, 0, 2, "identity weight: 0 = style only, 2 = identity from step 1"
        ),
        Parameter("production_mode", bool, help="on: full size; off: quick 512² previews"),
        Parameter("restyle", bool, help="on: repaint your photo instead of a new scene"),
        Parameter("style", str, help="style preset"),
        Parameter(
            "schedule",
            str,
            help="ays (AYS timesteps), ays-sigmas (AYS sigmas) or default",
            choices=get_args(ScheduleName),
        ),
    )
}
DEFAULTS: dict[str, Any] = {
    "guidance_scale": 8.0,
    "identity_guidance": 4.0,
    "steps": 20,
    "weight": 1.6,
    "production_mode": True,
    "restyle": False,
    "style": "none",
    "schedule": "ays",
}


def key(scope: str, owner: int) -> str:
    return f"narcis:bot:settings:{scope}:{owner}"


async def load(redis: Redis, user_id: int, channel_id: int | None = None) -> dict[str, Any]:
    """Defaults, then the channel's choices, then the user's own."""
    values = dict(DEFAULTS)
    for scope, owner in (("channel", channel_id), ("user", user_id)):
        if owner is not None:
            raw = await redis.get(key(scope, owner))
            values |= json.loads(raw) if raw else {}
    return values


async def for_interaction(redis: Redis, interaction: Any) -> dict[str, Any]:
    """The parameters in force for whoever sent `interaction`, where they sent it."""
    return await load(redis, interaction.user.id, interaction.channel_id)


async def store(redis: Redis, scope: str, owner: int, name: str, value: Any) -> None:
    raw = await redis.get(key(scope, owner))
    values = json.loads(raw) if raw else {}
    values[name] = value
    await redis.set(key(scope, owner), json.dumps(values))


async def replace(redis: Redis, scope: str, owner: int, values: dict[str, Any]) -> None:
    await redis.set(key(scope, owner), json.dumps(values))


def overrides(values: dict[str, Any], size: int = 1024) -> dict[str, dict[str, Any]]:
    """What a job changes in the worker's defaults (the prompt comes from the idea there)."""
    side = size if values["production_mode"] else min(size, 512)
    steps = int(values["steps"])
    return {
        "composition": {
            "width": side,
            "height": side,
            "steps": steps,
            "guidance_scale": values["guidance_scale"],
            "schedule": values["schedule"],
        },
        "identity": {
            "steps": steps,
            "guidance_scale": values["identity_guidance"],
            "style_strength": round(100 * (1 - values["weight"] / 2), 2),
            "crop_size": min(1024, side),
            "schedule": values["schedule"],
        },
    }
