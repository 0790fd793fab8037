"""X/Y sweeps: expand one or two parameters' values into parameter sets, then lay the results
out as a labelled grid."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PIL import Image
from pydantic import ValidationError

from core.diffusion.params import PortraitParams
from core.errors import UserInputError
from core.sheets import contact_sheet

MAX_CELLS = 16
SWEEPABLE = (
    "composition.seed",
    "composition.steps",
    "composition.guidance_scale",
    "composition.guidance_cutoff",
    "identity.seed",
    "identity.steps",
    "identity.guidance_scale",
    "identity.guidance_cutoff",
    "identity.style_strength",
    "identity.face_id_weight",
    "identity.mask_core",
    "identity.mask_dilation",
    "identity.mask_feather",
    "identity.crop_margin",
)


@dataclass(frozen=True)
class Cell:
    label: str
    params: PortraitParams


def parse_values(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise UserInputError("give at least one value, separated by commas")
    return values


def expand(base: PortraitParams, axes: list[tuple[str, list[str]]]) -> list[Cell]:
    """Every combination of the axes' values, applied to `base` and validated."""
    for name, _ in axes:
        if name not in SWEEPABLE:
            raise UserInputError(f"{name!r} cannot be swept (choose from {', '.join(SWEEPABLE)})")
    combos = list(itertools.product(*(values for _, values in axes)))
    if len(combos) > MAX_CELLS:
        raise UserInputError(f"{len(combos)} combinations; at most {MAX_CELLS} per sweep")
    cells = []
    for combo in combos:
        data = base.model_dump()
        for (name, _), value in zip(axes, combo, strict=True):
            section, field = name.split(".")
            data[section][field] = value
        try:
            params = PortraitParams.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise UserInputError(
                f"{'.'.join(map(str, error['loc']))} = {error.get('input')!r}: "
                f"{error['msg'].lower()}"
            ) from None
        label = ", ".join(f"{n.split('.')[1]}={v}" for (n, _), v in zip(axes, combo, strict=True))
        cells.append(Cell(label, params))
    return cells


def touches_stage_one(axes: list[tuple[str, list[str]]]) -> bool:
    return any(name.startswith("composition.") for name, _ in axes)


def grid(
    images: list[Image.Image], labels: list[str], columns: int, cell: int = 256
) -> Image.Image:
    return contact_sheet(images, labels, columns, cell)
