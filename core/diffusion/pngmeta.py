"""Parameters travel inside our PNGs (a text chunk), so any result can be reproduced from it.

A finished portrait carries a second chunk beside them: its likeness score and the analyser
that measured it (scores of different analysers do not compare). It is kept apart from the
parameters because it is a measurement of the result, not an input: loading a PNG's
parameters never depends on it."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from PIL import Image, PngImagePlugin, UnidentifiedImageError
from pydantic import Field, TypeAdapter, ValidationError

from core.diffusion.params import CompositionParams, Params, PortraitParams
from core.errors import UserInputError
from core.files import write_atomic

CHUNK = "narcis-params"
LIKENESS_CHUNK = "narcis-likeness"  # {"score", "analyzer", "note", "prompt_score", ...}
# Every parameter kind a PNG may carry; later stages add theirs to this union.
AnyParams = Annotated[CompositionParams | PortraitParams, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[AnyParams] = TypeAdapter(AnyParams)


def _info(params: Params, likeness: Mapping[str, Any] | None) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(CHUNK, params.to_json())
    if likeness is not None:
        info.add_text(LIKENESS_CHUNK, json.dumps(dict(likeness)))
    return info


def save_png(
    image: Image.Image, params: Params, path: Path, likeness: Mapping[str, Any] | None = None
) -> None:
    """Write `image` to `path` atomically, with `params` (and a portrait's `likeness`, as
    `Likeness.to_dict()` gives it) embedded as JSON."""
    info = _info(params, likeness)
    write_atomic(path, lambda handle: image.save(handle, format="PNG", pnginfo=info))


def png_bytes(
    image: Image.Image, params: Params, likeness: Mapping[str, Any] | None = None
) -> bytes:
    """The PNG file, parameters (and likeness) embedded, as bytes (for media storage)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_info(params, likeness))
    return buffer.getvalue()


def read_likeness(path: Path) -> dict[str, Any] | None:
    """The likeness a portrait PNG carries (None for one that has none, such as a stage-1
    image or a PNG written before scores were stored)."""
    with Image.open(path) as image:
        text = getattr(image, "text", {}).get(LIKENESS_CHUNK)
    return None if text is None else json.loads(text)


def read_params(path: Path) -> AnyParams:
    """The parameters embedded in one of our PNGs; a clear error for anything else."""
    try:
        with Image.open(path) as image:
            text = image.text.get(CHUNK) if hasattr(image, "text") else None
    except FileNotFoundError:
        raise UserInputError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError):
        raise UserInputError(f"{path} is not a readable image") from None
    if text is None:
        raise UserInputError(f"{path} carries no narcis parameters (not a PNG made by narcis)")
    return parse_params(text, source=str(path))


def parse_params(text: str, source: str = "parameters") -> AnyParams:
    try:
        return _ADAPTER.validate_python(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise UserInputError(f"{source}: invalid parameters ({_first_error(exc)})") from None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        return f"{where}: {error['msg']}" if where else error["msg"]
    return str(exc)
