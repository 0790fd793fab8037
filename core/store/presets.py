"""Named parameter sets, shared by the workbench and the bot."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core.errors import UserInputError
from core.store.db import Database
from core.store.models import ParameterPreset


async def save_preset(
    db: Database, name: str, parameters: dict[str, Any], owner: str | None = None
) -> None:
    name = name.strip()
    if not name or len(name) > 80:
        raise UserInputError("a preset needs a name of 1 to 80 characters")
    async with db.session() as session:
        preset = await session.scalar(select(ParameterPreset).where(ParameterPreset.name == name))
        if preset is None:
            session.add(ParameterPreset(name=name, parameters=parameters, owner=owner))
        else:
            preset.parameters, preset.owner = parameters, owner


async def load_preset(db: Database, name: str) -> dict[str, Any]:
    async with db.session() as session:
        preset = await session.scalar(select(ParameterPreset).where(ParameterPreset.name == name))
    if preset is None:
        raise UserInputError(f"no preset named {name!r}")
    return dict(preset.parameters)


async def preset_names(db: Database) -> list[str]:
    async with db.session() as session:
        return list(
            (
                await session.scalars(select(ParameterPreset.name).order_by(ParameterPreset.name))
            ).all()
        )
