"""Sweeps over up to three axes: X across the columns, Y down the rows, Z as separate grids.

An axis is a parameter path (`identity.guidance_scale`), or one of the special axes:
`prompt S/R` (A1111's search/replace: the first value is searched for in the prompts, each
value replaces it in turn) and `style` (a style preset wraps the prompt). Values are listed
with commas, and a numeric range may be written `1-5 (+2)` (1, 3, 5) or `1-5` (step 1).

Cells come in reading order, grid by grid: Z slowest, then Y, then X fastest.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from PIL import Image
from pydantic import ValidationError

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.errors import UserInputError
from core.prompt.styles import STYLES
from core.sheets import contact_sheet

MAX_CELLS = 16  # per sweep, all axes together: 4×4, or 2×2×4
MAX_VALUES_TEXT = 2000  # characters in one axis's values box
PROMPT_SR, STYLE = "prompt S/R", "style"
# Not sweepable as a plain path: the prompts (swept by prompt S/R and style), a face box (its
# own commas), the idea (not a painting input), and what only records how a run went.
NOT_SWEPT = {"kind", "version", "prompt", "negative_prompt", "face_box", "idea", "face"}
FIRST = (  # what operators sweep most, first in the list
    "identity.face_id_weight",
    "identity.guidance_scale",
    "identity.style_strength",
    "identity.guidance_cutoff",
    "identity.mask_feather",
    "identity.schedule",
    "identity.seed",
)


def _paths() -> tuple[str, ...]:
    """Every parameter a value list can set: each field of the two stages and the top level
    that is a single number or name (new fields join the list by themselves)."""
    nested = {"composition": CompositionParams, "identity": IdentityParams}
    paths = [
        f"{section}.{name}"
        for section, model in nested.items()
        for name in model.model_fields
        if name not in NOT_SWEPT
    ]
    paths += [n for n in PortraitParams.model_fields if n not in NOT_SWEPT | set(nested)]
    return (*FIRST, *(p for p in paths if p not in FIRST))


SWEEPABLE = (*_paths(), PROMPT_SR, STYLE)
NONE = "(none)"
_NUMBER = r"\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\s*-\s*({_NUMBER})(?:\s*\(\s*\+\s*({_NUMBER})\s*\))?$")

Axis = tuple[str, list[str]]


@dataclass(frozen=True)
class Cell:
    label: str
    params: PortraitParams
    grid: int  # which Z grid (0 without a Z axis)


def parse_values(text: str) -> list[str]:
    """`2, 5, 1-5 (+2)` → ["2", "5", "1", "3", "5"]."""
    if len(text) > MAX_VALUES_TEXT:
        raise UserInputError(f"{len(text)} characters of values; at most {MAX_VALUES_TEXT}")
    values: list[str] = []
    for item in (v.strip() for v in text.split(",")):
        if not item:
            continue
        match = _RANGE.match(item)
        values.extend(expand_range(item, *match.groups()) if match else [item])
    if not values:
        raise UserInputError("give at least one value, separated by commas")
    if len(values) > MAX_CELLS:
        raise UserInputError(f"{len(values)} values on one axis; at most {MAX_CELLS} per sweep")
    return values


def expand_range(text: str, start: str, stop: str, step: str | None) -> list[str]:
    a, b, s = float(start), float(stop), float(step or 1)
    if s <= 0 or b < a:
        raise UserInputError(f"range {text!r}: write low-high (+step) with low ≤ high, step > 0")
    count = int((b - a) / s + 1e-9) + 1
    if count > MAX_CELLS:
        raise UserInputError(f"range {text!r} has {count} values; at most {MAX_CELLS}")
    whole = all("." not in part for part in (start, stop, step or "1"))
    return [str(int(a + i * s)) if whole else f"{a + i * s:g}" for i in range(count)]


def expand(base: PortraitParams, axes: list[Axis]) -> list[Cell]:
    """Every combination of the axes (X, then optional Y and Z), applied to `base`."""
    if not 1 <= len(axes) <= 3:
        raise UserInputError(f"{len(axes)} axes; a sweep has one to three (X, Y, Z)")
    for name, values in axes:
        if name not in SWEEPABLE:
            raise UserInputError(f"{name!r} cannot be swept (choose from {', '.join(SWEEPABLE)})")
        check_axis(base, name, values)
    count = _product(axes)
    if count > MAX_CELLS:
        raise UserInputError(f"{count} combinations; at most {MAX_CELLS} per sweep")
    cells = []
    for slowest_first in itertools.product(*(values for _, values in reversed(axes))):
        combo = list(reversed(slowest_first))  # X, Y, Z
        params = base
        for (name, _), value in zip(axes, combo, strict=True):
            params = apply(params, name, value, axes)
        label = ", ".join(f"{short(n)}={v}" for (n, _), v in zip(axes, combo, strict=True))
        grid = axes[2][1].index(combo[2]) if len(axes) > 2 else 0
        cells.append(Cell(label, params, grid))
    return cells


def _product(axes: list[Axis]) -> int:
    count = 1
    for _, values in axes:
        count *= len(values)
    return count


def check_axis(base: PortraitParams, name: str, values: list[str]) -> None:
    if name == PROMPT_SR and values[0] not in base.composition.prompt:
        raise UserInputError(f"prompt S/R: {values[0]!r} is not in the prompt")
    if name == STYLE:
        unknown = [v for v in values if v not in STYLES]
        if unknown:
            raise UserInputError(f"unknown style {unknown[0]!r} (known: {', '.join(STYLES)})")


def apply(params: PortraitParams, name: str, value: str, axes: list[Axis]) -> PortraitParams:
    data = params.model_dump()
    if name == PROMPT_SR:
        search = next(values for n, values in axes if n == PROMPT_SR)[0]
        for section in ("composition", "identity"):
            if data[section]["prompt"] is not None:
                data[section]["prompt"] = data[section]["prompt"].replace(search, value)
    elif name == STYLE:
        style, composition = STYLES[value], data["composition"]
        composition["prompt"] = style.wrap(composition["prompt"])
        if style.negative:
            composition["negative_prompt"] = ", ".join(
                p for p in (style.negative, composition["negative_prompt"]) if p
            )
    elif "." in name:
        section, field = name.split(".")
        data[section][field] = value
    else:  # a top-level parameter (tier, face_retries)
        data[name] = value
    try:
        return PortraitParams.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UserInputError(
            f"{'.'.join(map(str, error['loc']))} = {error.get('input')!r}: {error['msg'].lower()}"
        ) from None


def short(name: str) -> str:
    return name.split(".")[-1]


def axes_from(named: list[tuple[str | None, str]]) -> list[Axis]:
    """The (name, values text) pairs of the X, Y and Z fields, unused ones left out; a Y or Z
    without the axis before it is refused."""
    axes: list[Axis] = []
    for position, (name, text) in zip("XYZ", named, strict=False):
        if not name or name == NONE:
            continue
        if len(axes) != "XYZ".index(position):
            raise UserInputError(f"set the axes in order: {position} needs the ones before it")
        axes.append((name, parse_values(text)))
    if not axes:
        raise UserInputError("choose an X parameter to sweep")
    return axes


def axis_controls(axes: list[Axis] | None) -> list[str]:
    """The X, Y and Z fields (name, values text, …) that `axes_from` reads back as `axes`."""
    fields: list[str] = []
    for name, values in (axes or [])[:3]:
        fields += [name, ", ".join(values)]
    while len(fields) < 6:
        fields += [NONE, ""]
    return fields


def touches_stage_one(axes: list[Axis]) -> bool:
    return any(name.startswith("composition.") or name in (PROMPT_SR, STYLE) for name, _ in axes)


def stage_costs(cells: list[Cell], stage_one: bool) -> dict[str, int]:
    """UNet steps the sweep will run, per stage: stage 1 once per distinct stage-1 set, stage 2
    per cell (what the queue's ETA is made of)."""
    distinct = {c.params.composition for c in cells} if stage_one else set()
    return {
        "composition": sum(p.steps for p in distinct),
        "identity": sum(c.params.identity.steps for c in cells),
    }


def unet_steps(cells: list[Cell], stage_one: bool) -> int:
    return sum(stage_costs(cells, stage_one).values())


def grid(
    images: list[Image.Image | None], labels: list[str], columns: int, cell: int = 256
) -> Image.Image:
    return contact_sheet(images, labels, columns, cell)
