"""A sweep as one contact sheet, and back: every control restored from its PNG or its JSON.

The sheet stacks the Z grids (X across, Y down), each cell under its label and likeness, the
best cell framed in gold. The PNG carries two text chunks: `narcis-params` (the base
parameters, as every narcis PNG) and `narcis-sweep` (a `SweepRecord`: the same parameters,
the axes, each cell's label and score, which is best). The record is also written beside it
as JSON. Loading either gives back the parameters and the axes, so every widget and every
axis field is set again.

Whatever is loaded is checked as if typed: the record's own schema, then its axes through
`sweep.expand` (a forged axis or value is refused by name), then that its cells and best match.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from PIL import Image, ImageDraw, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.diffusion.likeness import Likeness
from core.diffusion.params import PortraitParams
from core.diffusion.pngmeta import CHUNK, parse_params
from core.errors import UserInputError
from core.files import write_atomic
from core.sheets import CAPTION, contact_sheet
from workbench.sweep import MAX_CELLS, Axis, Cell, expand

SWEEP_CHUNK = "narcis-sweep"
MAX_FILE_BYTES = 32 * 2**20  # a 16-cell sheet is a few MB
BEST_COLOUR = (232, 190, 80)
Z_BAND = 28  # the caption band above each Z grid
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Text = Annotated[str, Field(max_length=300)]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AxisRecord(_Record):
    name: Text
    values: Annotated[list[Text], Field(min_length=1, max_length=MAX_CELLS)]


class CellRecord(_Record):
    label: Text
    likeness: float | None  # None: no face found, or not measured


class SweepRecord(_Record):
    """What a sweep's sheet carries: enough to set every control again, and its scores."""

    kind: Literal["sweep"] = "sweep"
    version: Literal[1] = 1
    params: PortraitParams
    axes: Annotated[list[AxisRecord], Field(min_length=1, max_length=3)]
    cells: Annotated[list[CellRecord], Field(max_length=MAX_CELLS)]
    best: int | None  # the cell with the highest likeness (reading order), if any was measured
    analyzer: Annotated[str, Field(max_length=40)] | None = None

    @property
    def axis_list(self) -> list[Axis]:
        return [(a.name, list(a.values)) for a in self.axes]


@dataclass(frozen=True)
class Loaded:
    """What a file gives back: the parameters, and the axes when it was a sweep."""

    params: PortraitParams
    axes: list[Axis] | None = None


# 1. Scoring: the best cell is the most recognisable one
def best_cell(scores: list[float | None]) -> int | None:
    measured = [(s, i) for i, s in enumerate(scores) if s is not None]
    return max(measured, key=lambda pair: (pair[0], -pair[1]))[1] if measured else None


@dataclass(frozen=True)
class SweepResult:
    grids: list[tuple[Image.Image, str]]  # one per Z value
    cells: list[tuple[Image.Image, str]]  # each under its label, likeness and "best"
    unet_steps: int
    sheet: Image.Image  # every grid in one picture, for export
    record: SweepRecord  # what the sheet's PNG carries: parameters, axes, scores, the best


def sweep_result(
    params: PortraitParams,
    axes: list[Axis],
    cells: list[Cell],
    images: list[Image.Image],
    scores: list[Likeness],
    unet_steps: int,
) -> SweepResult:
    """The labelled cells, the grids with the best cell framed, the sheet and its record."""
    best = best_cell([s.score for s in scores])
    labels = [
        f"{c.label} · {s.label}" + (" · best" if k == best else "")
        for k, (c, s) in enumerate(zip(cells, scores, strict=True))
    ]
    grids = grids_of(cells, images, labels, axes, best)
    record = SweepRecord(
        params=params,
        axes=[AxisRecord(name=n, values=v) for n, v in axes],
        cells=[
            CellRecord(label=c.label, likeness=s.score) for c, s in zip(cells, scores, strict=True)
        ],
        best=best,
        analyzer=scores[0].analyzer if scores else None,
    )
    labelled = list(zip(images, labels, strict=True))
    return SweepResult(grids, labelled, unet_steps, one_sheet(grids), record)


# 2. The grids and the one sheet
def grids_of(
    cells: list[Cell],
    images: list[Image.Image],
    labels: list[str],
    axes: list[Axis],
    best: int | None,
) -> list[tuple[Image.Image, str]]:
    """One labelled grid per Z value, the best cell framed where it falls."""
    columns, grids = len(axes[0][1]), []
    for z in sorted({c.grid for c in cells}):
        mine = [i for i, c in enumerate(cells) if c.grid == z]
        sheet = contact_sheet([images[i] for i in mine], [labels[i] for i in mine], columns)
        if best in mine:
            frame(sheet, mine.index(best), columns)
        caption = f"{axes[2][0]} = {axes[2][1][z]}" if len(axes) > 2 else "grid"
        grids.append((sheet, caption))
    return grids


def frame(sheet: Image.Image, index: int, columns: int, cell: int = 256) -> None:
    x, y = (index % columns) * cell, (index // columns) * (cell + CAPTION)
    ImageDraw.Draw(sheet).rectangle(
        (x + 1, y + 1, x + cell - 2, y + cell + CAPTION - 2), outline=BEST_COLOUR, width=4
    )


def one_sheet(grids: list[tuple[Image.Image, str]]) -> Image.Image:
    """The Z grids one under the other, each under its caption band."""
    band = Z_BAND if len(grids) > 1 else 0
    width = max(g.width for g, _ in grids)
    sheet = Image.new("RGB", (width, sum(g.height + band for g, _ in grids)), (12, 12, 14))
    draw, y = ImageDraw.Draw(sheet), 0
    for grid, caption in grids:
        if band:
            draw.text((6, y + 8), caption, fill=(230, 220, 200))
        sheet.paste(grid, (0, y + band))
        y += grid.height + band
    return sheet


# 3. Writing: the PNG with both chunks, and the JSON beside it
def save_sweep(sheet: Image.Image, record: SweepRecord, png: Path, json_path: Path) -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(CHUNK, record.params.to_json())
    info.add_text(SWEEP_CHUNK, record.model_dump_json())
    write_atomic(png, lambda handle: sheet.save(handle, format="PNG", pnginfo=info))
    write_atomic(json_path, lambda handle: handle.write(record.model_dump_json(indent=2).encode()))


# 4. Reading: a sweep PNG or JSON, or any narcis portrait PNG or parameters JSON
def read_controls_file(path: Path) -> Loaded:
    name = path.name
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise UserInputError(f"{name}: no such file") from None
    if size > MAX_FILE_BYTES:
        raise UserInputError(f"{name} is {size / 2**20:.0f} MB; the limit is 32 MB")
    if head == PNG_SIGNATURE:
        return _from_png(path)
    if head.lstrip()[:1] in (b"{", b""):
        return _from_json(path.read_bytes(), name)
    raise UserInputError(f"{name} is {_what(path)}: load a PNG made by narcis or its JSON")


def _from_png(path: Path) -> Loaded:
    name = path.name
    try:
        with Image.open(path) as image:
            texts = dict(image.info)  # our chunks come before the pixels: no need to decode
    except ValueError:  # Pillow's limit on text chunks (a zip bomb)
        raise UserInputError(f"{name} carries a metadata chunk that is too large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise UserInputError(f"{name} is a corrupt PNG") from None
    sweep, params = texts.get(SWEEP_CHUNK), texts.get(CHUNK)
    if sweep is not None:
        loaded = _record(sweep, name)
        if params is not None and _params(params, name) != loaded.params:
            raise UserInputError(f"{name}: its sweep and its parameters disagree (edited?)")
        return loaded
    if params is None:
        raise UserInputError(f"{name} carries no narcis parameters (not a PNG made by narcis)")
    return Loaded(_params(params, name))


def _from_json(data: bytes, name: str) -> Loaded:
    try:
        text = data.decode("utf-8")
        kind = json.loads(text).get("kind") if text.strip().startswith("{") else None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise UserInputError(f"{name} is not valid JSON") from None
    return _record(text, name) if kind == "sweep" else Loaded(_params(text, name))


def _params(text: str, name: str) -> PortraitParams:
    params = parse_params(text, source=name)
    if params.kind != "portrait":
        raise UserInputError(f"{name} holds stage-1 parameters only")
    return params


def _record(text: str, name: str) -> Loaded:
    try:
        record = SweepRecord.model_validate_json(text)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "sweep"
        raise UserInputError(f"{name}: invalid sweep ({where}: {error['msg']})") from None
    axes = record.axis_list
    cells = expand(record.params, axes)  # a forged axis or value is refused here, by name
    if len(record.cells) != len(cells):
        raise UserInputError(
            f"{name}: {len(record.cells)} cells recorded, its axes make {len(cells)}"
        )
    if record.best is not None and not 0 <= record.best < len(cells):
        raise UserInputError(f"{name}: best cell {record.best} is not one of its {len(cells)}")
    return Loaded(record.params, axes)


def _what(path: Path) -> str:
    try:
        with Image.open(path) as image:
            return f"a {image.format} image, not a PNG"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return "neither a PNG nor JSON"
