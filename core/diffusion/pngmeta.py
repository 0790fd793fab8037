"""Parameters travel inside our PNGs (a text chunk), so any result can be reproduced from it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

from PIL import Image, PngImagePlugin, UnidentifiedImageError
from pydantic import Field, TypeAdapter, ValidationError

from core.diffusion.params import CompositionParams, Params, PortraitParams
from core.errors import UserInputError
from core.files import write_atomic

CHUNK = "narcis-params"
# Every parameter kind a PNG may carry; later stages add theirs to this union.
AnyParams = Annotated[CompositionParams | PortraitParams, Field(discriminator="kind")]
_ADAPTER: TypeAdapter[AnyParams] = TypeAdapter(AnyParams)


def _info(params: Params) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(CHUNK, params.to_json())
    return info


def save_png(image: Image.Image, params: Params, path: Path) -> None:
    """Write `image` to `path` atomically, with `params` embedded as JSON."""
    write_atomic(path, lambda handle: image.save(handle, format="PNG", pnginfo=_info(params)))


def png_bytes(image: Image.Image, params: Params) -> bytes:
    """The PNG file, parameters embedded, as bytes (for media storage)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=_info(params))
    return buffer.getvalue()


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
