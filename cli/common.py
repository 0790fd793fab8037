"""Shared pieces of the sub-commands: settings, model folder, turning bad input into one line."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from core.config import Settings, load_settings
from core.errors import UserInputError
from core.modelkit.layout import ModelLayout

M = TypeVar("M", bound=BaseModel)


def settings() -> Settings:
    return load_settings()


def layout(models: Path | None) -> ModelLayout:
    return ModelLayout(models if models is not None else settings().models_path)


def build(model: type[M], **values: object) -> M:
    """Validate CLI values into a parameter object; the first problem becomes one line."""
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        option = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "input"
        shown = error.get("input")
        raise UserInputError(f"{option} {shown!r}: {error['msg'].lower()}") from None
