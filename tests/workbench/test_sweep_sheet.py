"""A sweep's contact sheet: one PNG (and its JSON) that restores every control, the best cell
marked; and what a forged, corrupt, oversized or foreign file gets instead (a clear refusal).

The round trip sets every control of the page (each parameter widget and the six axis fields)
to a value that is not its default, exports, loads, and compares every one."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from core.diffusion.likeness import Likeness
from core.diffusion.params import CompositionParams, PortraitParams
from core.diffusion.pngmeta import CHUNK, read_params, save_png
from core.errors import UserInputError
from workbench.controls import WIDGET_PATHS, controls_to_params, params_to_controls
from workbench.sweep import axes_from, axis_controls, expand, parse_values
from workbench.sweep_sheet import (
    BEST_COLOUR,
    SWEEP_CHUNK,
    SweepRecord,
    read_controls_file,
    save_sweep,
    sweep_result,
)

AXIS_FIELDS = ("x", "x values", "y", "y values", "z", "z values")  # as laid out in app.py
# The page's defaults: what a fresh tab shows (app.py builds its widgets from these).
DEFAULT_WIDGETS = params_to_controls(
    PortraitParams(composition=CompositionParams(prompt="portrait"))
)
DEFAULT_AXES = ["identity.guidance_scale", "2, 5", "(none)", "", "(none)", ""]
# Every control, set to something that is not its default: schedule, mask blur and identity
# start as the three axes.
CHANGED = {
    "idea": "byzantine emperor",
    "tier": "fast",
    "face_retries": 7,
    "composition.prompt": "a byzantine emperor, gold mosaic",
    "composition.negative_prompt": "blurry, modern",
    "composition.width": 96,
    "composition.height": 128,
    "composition.steps": 3,
    "composition.guidance_scale": 6.5,
    "composition.guidance_cutoff": 0.35,
    "composition.scheduler": "euler",
    "composition.schedule": "ays-sigmas",
    "composition.seed": str(2**62 + 5),  # past 2^53: travels as text
    "identity.prompt": "an emperor, photo",
    "identity.steps": 2,
    "identity.guidance_scale": 3.25,
    "identity.guidance_cutoff": 0.4,
    "identity.scheduler": "euler",
    "identity.schedule": "default",
    "identity.style_strength": 35.5,
    "identity.face_id_weight": 3,
    "identity.class_word": "woman",
    "identity.crop_size": 128,
    "identity.crop_margin": 0.85,
    "identity.mask_core": 0.45,
    "identity.mask_dilation": 0.3,
    "identity.mask_feather": 0.55,
    "identity.face_box": "0.1, 0.15, 0.8, 0.9",
    "identity.seed": "12345",
    "x": "identity.schedule",
    "x values": "ays-sigmas, default",
    "y": "identity.mask_feather",
    "y values": "0.05, 0.4",
    "z": "identity.style_strength",
    "z values": "10, 30",
}


def widgets_of(controls: dict) -> dict:
    return {name: controls[name] for name in WIDGET_PATHS}


def exported(tmp_path: Path, controls: dict, scores: list[float | None]) -> tuple[Path, Path]:
    """What the workbench writes after a sweep set up with `controls` (cells: plain colours)."""
    params = controls_to_params(widgets_of(controls))
    fields = [controls[n] for n in AXIS_FIELDS]
    axes = axes_from(list(zip(fields[::2], fields[1::2], strict=True)))
    cells = expand(params, axes)
    images = [Image.new("RGB", (32, 32), (20 * k, 90, 160)) for k in range(len(cells))]
    likeness = [Likeness(s, "dlib-128", None if s else "no face") for s in scores]
    result = sweep_result(params, axes, cells, images, likeness, unet_steps=0)
    png, json_path = tmp_path / "sweep.png", tmp_path / "sweep.json"
    save_sweep(result.sheet, result.record, png, json_path)
    return png, json_path


def controls_after_loading(path: Path) -> dict:
    """Every control as the page sets it when `path` is loaded (app.py's `reproduce`)."""
    loaded = read_controls_file(path)
    return {
        **params_to_controls(loaded.params),
        **dict(zip(AXIS_FIELDS, axis_controls(loaded.axes), strict=True)),
    }


def test_every_control_round_trips_through_the_sheet_png_and_its_json(tmp_path) -> None:
    assert set(CHANGED) == set(WIDGET_PATHS) | set(AXIS_FIELDS)  # a new control needs a value
    defaults = {**DEFAULT_WIDGETS, **dict(zip(AXIS_FIELDS, DEFAULT_AXES, strict=True))}
    same = [name for name in CHANGED if CHANGED[name] == defaults[name]]
    assert same == []  # each control is moved off its default, so a lost one shows
    scores = [0.5, 0.91, None, 0.7, 0.91, 0.2, 0.3, 0.4]  # a tie: the first 0.91 is best
    png, json_path = exported(tmp_path, CHANGED, scores)
    for path in (png, json_path):
        restored = controls_after_loading(path)
        wrong = {n: (CHANGED[n], restored[n]) for n in CHANGED if restored[n] != CHANGED[n]}
        assert wrong == {}, path.name
    record = SweepRecord.model_validate_json(json_path.read_text())
    assert record.best == 1 and [c.likeness for c in record.cells] == scores
    assert read_params(png) == record.params  # any narcis tool reads the sheet's parameters


def test_the_sheet_stacks_the_z_grids_and_frames_the_best_cell(tmp_path) -> None:
    png, _ = exported(tmp_path, CHANGED, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.99, 0.7])
    sheet = Image.open(png).convert("RGB")
    assert sheet.size == (2 * 256, 2 * (28 + 2 * 278))  # 2 Z grids of 2×2, each with its band
    # the best (0.99) is cell 7: the second Z grid, second row, first column
    top = 28 + 2 * 278 + 28 + 278
    assert sheet.getpixel((2, top + 100)) == BEST_COLOUR
    assert sheet.getpixel((2, 28 + 100)) != BEST_COLOUR  # cell 1 of grid 1 is not framed


def forged_png(tmp_path: Path, texts: dict[str, str], name: str = "forged.png") -> Path:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    path = tmp_path / name
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    return path


def a_record(tmp_path: Path) -> dict:
    _, json_path = exported(tmp_path, CHANGED, [0.5] * 8)
    return json.loads(json_path.read_text())


def edited(record: dict, change) -> str:
    change(record)
    return json.dumps(record)


def hundred(record: dict) -> None:
    record["axes"] = [
        {"name": "identity.seed", "values": [str(n) for n in range(100)]},
        {"name": "composition.seed", "values": [str(n) for n in range(100)]},
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["axes"][0].update(name="identity.nonsense"), "cannot be swept"),
        (lambda r: r["axes"][1].update(values=["0.1", "7"]), r"mask_feather = '7'"),
        (lambda r: r["cells"].pop(), "7 cells recorded, its axes make 8"),
        (lambda r: r.update(best=8), "best cell 8 is not one of its 8"),
        (lambda r: r.update(kind="portrait"), r"invalid (sweep \(kind|parameters)"),
        (lambda r: r["params"].update(tier="turbo"), r"invalid sweep \(params.tier"),
        (hundred, r"axes.0.values: List should have at most 16 items"),
    ],
)
def test_a_forged_sweep_is_refused_by_name(tmp_path, change, message) -> None:
    record = a_record(tmp_path)
    text = edited(record, change)
    with pytest.raises(UserInputError, match=message):
        read_controls_file(forged_png(tmp_path, {SWEEP_CHUNK: text}))
    json_path = tmp_path / "forged.json"
    json_path.write_text(text)
    with pytest.raises(UserInputError, match=message):
        read_controls_file(json_path)


def test_a_huge_axis_typed_or_ranged_is_refused_with_its_limit() -> None:
    hundred_values = ", ".join(str(n) for n in range(100))
    with pytest.raises(UserInputError, match="100 values on one axis; at most 16 per sweep"):
        parse_values(hundred_values)
    with pytest.raises(UserInputError, match="range '1-100' has 100 values; at most 16"):
        parse_values("1-100")
    with pytest.raises(UserInputError, match="100 combinations; at most 16 per sweep"):
        expand(
            controls_to_params(widgets_of(CHANGED)), [("identity.seed", parse_values("0-9"))] * 2
        )
    with pytest.raises(UserInputError, match="characters of values; at most 2000"):
        parse_values("1, " * 5000)


def test_sheets_without_or_with_broken_metadata_and_other_files_are_refused(tmp_path) -> None:
    record = a_record(tmp_path)
    cases = {
        forged_png(tmp_path, {}, "plain.png"): "carries no narcis parameters",
        forged_png(tmp_path, {SWEEP_CHUNK: "{not json"}, "bad.png"): "invalid sweep",
        forged_png(
            tmp_path,
            {
                SWEEP_CHUNK: json.dumps(record),
                CHUNK: PortraitParams(composition=CompositionParams(prompt="other")).to_json(),
            },
            "mixed.png",
        ): "its sweep and its parameters disagree",
    }
    for path, message in cases.items():
        with pytest.raises(UserInputError, match=message):
            read_controls_file(path)
    good, _ = exported(tmp_path, CHANGED, [0.5] * 8)
    data = bytearray(good.read_bytes())
    at = data.index(SWEEP_CHUNK.encode()) + 40
    data[at] ^= 0xFF  # one byte inside the text chunk: its checksum no longer matches
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(bytes(data))
    jpeg = tmp_path / "photo.png"  # named .png, but a JPEG
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    noise = tmp_path / "noise.png"
    noise.write_bytes(b"GIF-not-really" + bytes(range(256)))
    text = tmp_path / "notes.json"
    text.write_text("these are my notes")
    stage_one = tmp_path / "stage1.png"
    save_png(Image.new("RGB", (8, 8)), CompositionParams(prompt="x"), stage_one)
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(33 * 2**20)
    cases = {
        corrupt: "corrupt.png is a corrupt PNG",
        jpeg: "photo.png is a JPEG image, not a PNG",
        noise: "noise.png is neither a PNG nor JSON",
        text: "notes.json is neither a PNG nor JSON",
        stage_one: "stage-1 parameters only",
        big: "big.json is 33 MB; the limit is 32 MB",
        tmp_path / "gone.png": "gone.png: no such file",
    }
    for path, message in cases.items():
        with pytest.raises(UserInputError, match=message):
            read_controls_file(path)


def test_a_zip_bomb_in_a_text_chunk_is_refused(tmp_path) -> None:
    """A compressed text chunk that inflates past Pillow's limit (1 MB): a clear refusal."""
    bomb = tmp_path / "bomb.png"
    Image.new("RGB", (8, 8)).save(bomb)
    data = bomb.read_bytes()
    body = SWEEP_CHUNK.encode() + b"\0\0" + zlib.compress(b" " * (64 * 2**20), 9)
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body
    chunk += zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    at = data.index(b"IDAT") - 4
    bomb.write_bytes(data[:at] + chunk + data[at:])
    assert bomb.stat().st_size < 200_000
    with pytest.raises(UserInputError, match="metadata chunk that is too large"):
        read_controls_file(bomb)
