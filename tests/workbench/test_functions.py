"""The workbench's plain functions: map editing, schedule plots, sweeps, parameter files."""

import numpy as np
import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import save_png
from core.errors import UserInputError
from workbench.engine import Workbench, parse_portrait_params
from workbench.maps import MapEdit, apply_paint, editor_value, paint_layer
from workbench.plots import active_fractions, schedule_plot
from workbench.sweep import axes_from, expand, grid, parse_values, touches_stage_one, unet_steps

BASE = PortraitParams(
    composition=CompositionParams(prompt="a knight in armour", steps=10), identity=IdentityParams()
)


def test_paint_opacity_is_strength() -> None:
    auto = np.full((4, 4), 0.5, np.float32)
    paint = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    paint.putpixel((0, 0), (255, 255, 255, 255))  # full white: change fully
    paint.putpixel((1, 0), (0, 0, 0, 255))  # full black: keep
    paint.putpixel((2, 0), (255, 255, 255, 128))  # half-opaque white: halfway to 1
    out = apply_paint(auto, paint)
    assert out[0, 0] == 1.0 and out[0, 1] == 0.0
    assert abs(out[0, 2] - 0.75) < 0.01 and out[3, 3] == 0.5
    assert apply_paint(auto, None) is auto
    half = apply_paint(auto, paint, strength=0.5)  # the visible strength slider
    assert abs(half[0, 0] - 0.75) < 0.01 and abs(half[0, 1] - 0.25) < 0.01


def test_uploaded_and_inverted_maps_come_before_the_paint() -> None:
    auto = np.zeros((4, 4), np.float32)
    upload = Image.new("L", (8, 8), 255)
    paint = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    paint.putpixel((0, 0), (0, 0, 0, 255))
    assert MapEdit(upload=upload)(auto).min() == 1.0
    out = MapEdit(upload=upload, invert=True, paint=paint)(auto)
    assert out[0, 0] == 0.0 and out[3, 3] == 0.0
    assert MapEdit(invert=True, paint=paint)(auto)[3, 3] == 1.0


def test_editor_layers_merge_into_one_and_come_back_after_a_run() -> None:
    first = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    first.putpixel((0, 0), (255, 255, 255, 255))
    second = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    second.putpixel((1, 1), (0, 0, 0, 255))
    merged = paint_layer({"background": None, "layers": [first, second], "composite": None})
    assert merged.getpixel((0, 0)) == (255, 255, 255, 255)
    assert merged.getpixel((1, 1)) == (0, 0, 0, 255)
    assert paint_layer(None) is None and paint_layer({"layers": []}) is None
    assert paint_layer({"layers": [Image.new("RGBA", (2, 2))]}) is None  # nothing painted
    shown = editor_value(Image.new("RGB", (2, 2)), merged)  # no ghost paint: strokes stay
    assert shown["layers"][0].tobytes() == merged.tobytes()


def test_active_pixels_grow_as_masks_shrink() -> None:
    change = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (10, 1))
    fractions = active_fractions(change, 5)
    assert fractions == sorted(fractions) and fractions[-1] < 1.0 and fractions[0] > 0


def test_schedule_plot_is_an_image_that_changes_with_steps() -> None:
    a, b = schedule_plot(10), schedule_plot(20, np.ones((8, 8), np.float32), 16, 4)
    assert a.size == b.size == (640, 300) and a.tobytes() != b.tobytes()


def test_ranges_expand_like_a1111() -> None:
    assert parse_values("1-5 (+2)") == ["1", "3", "5"]
    assert parse_values("2, 4-6, 10") == ["2", "4", "5", "6", "10"]
    assert parse_values("0.5-1.5 (+0.25)") == ["0.5", "0.75", "1", "1.25", "1.5"]
    with pytest.raises(UserInputError, match="low ≤ high"):
        parse_values("5-1")


def test_sweep_cells_run_x_fastest_in_reading_order() -> None:
    axes = axes_from([("identity.guidance_scale", "2, 5, 8"), ("identity.seed", "0, 1"), ("", "")])
    cells = expand(BASE, axes)
    assert [c.label for c in cells] == [
        "guidance_scale=2, seed=0",
        "guidance_scale=5, seed=0",
        "guidance_scale=8, seed=0",
        "guidance_scale=2, seed=1",
        "guidance_scale=5, seed=1",
        "guidance_scale=8, seed=1",
    ]
    assert not touches_stage_one(axes)
    assert unet_steps(cells, stage_one=False) == 6 * 20


def test_a_z_axis_makes_separate_grids_and_stage_one_is_counted_once_per_set() -> None:
    axes = axes_from(
        [
            ("identity.seed", "0, 1"),
            ("composition.scheduler", "dpmpp_2m, euler"),
            ("style", "none, comic-book"),
        ]
    )
    cells = expand(BASE, axes)
    assert [c.grid for c in cells] == [0] * 4 + [1] * 4
    assert touches_stage_one(axes)
    assert cells[4].params.composition.prompt.startswith("comic")
    assert cells[2].params.composition.scheduler == "euler"
    assert unet_steps(cells, stage_one=True) == 4 * 10 + 8 * 20  # 4 distinct stage-1 sets


def test_prompt_search_and_replace() -> None:
    cells = expand(BASE, [("prompt S/R", ["knight", "queen", "monk"])])
    assert [c.params.composition.prompt for c in cells] == [
        "a knight in armour",
        "a queen in armour",
        "a monk in armour",
    ]
    with pytest.raises(UserInputError, match="prompt S/R: 'dragon' is not in the prompt"):
        expand(BASE, [("prompt S/R", ["dragon", "x"])])


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ([("identity.prompt", ["a"])], "cannot be swept"),
        ([("identity.steps", ["0"])], "identity.steps = '0'"),
        ([("style", ["sparkles"])], "unknown style 'sparkles'"),
        (
            [
                ("identity.seed", [str(i) for i in range(5)]),
                ("identity.steps", ["1", "2", "3", "4"]),
            ],
            "20 combinations",
        ),
    ],
)
def test_bad_sweeps_are_refused(axes, message) -> None:
    with pytest.raises(UserInputError, match=message):
        expand(BASE, axes)


def test_axes_must_come_in_order() -> None:
    with pytest.raises(UserInputError, match="Y needs the ones before it"):
        axes_from([("(none)", ""), ("identity.seed", "1")])


def test_grid_is_labelled_rows_and_columns() -> None:
    images = [Image.new("RGB", (10, 10), c) for c in ("red", "green", "blue", "white")]
    sheet = grid(images, ["a", "b", "c", "d"], columns=2, cell=50)
    assert sheet.size == (100, 2 * (50 + 22))
    assert sheet.getpixel((75, 22 + 25)) == (0, 128, 0)


def test_parameters_load_from_png_and_json(tmp_path) -> None:
    png = tmp_path / "made.png"
    save_png(Image.new("RGB", (8, 8)), BASE, png)
    assert Workbench.params_from_file(str(png)) == BASE
    text = tmp_path / "params.json"
    text.write_text(BASE.model_dump_json())
    assert Workbench.params_from_file(str(text)) == BASE
    stage_one = tmp_path / "compose.png"
    save_png(Image.new("RGB", (8, 8)), BASE.composition, stage_one)
    with pytest.raises(UserInputError, match="stage-1 parameters only"):
        Workbench.params_from_file(str(stage_one))
    with pytest.raises(UserInputError, match="invalid parameters"):
        parse_portrait_params("{not json")


def test_a_face_box_without_size_is_refused_by_name() -> None:
    flat = BASE.model_copy(
        update={"identity": BASE.identity.model_copy(update={"face_box": (0.2, 0.3, 0.2, 0.6)})}
    )
    with pytest.raises(UserInputError, match=r"face box 0.2, 0.3, 0.2, 0.6 has no size"):
        parse_portrait_params(flat.model_dump_json())


def test_a_face_less_base_gets_a_placed_box_the_operator_can_move(
    portrait_pipeline, astronaut, tmp_path
) -> None:
    """Stage 1 on random weights paints no face: the workbench shows where it placed one, and
    a typed box moves it."""
    from core.config import load_settings
    from core.diffusion.faces.analysis import face_to_box
    from workbench.engine import FACE_VIEW, Bench

    bench_app = Workbench(load_settings(data_dir=tmp_path), portrait_pipeline)
    bench = Bench()
    path = tmp_path / "astronaut.png"
    astronaut.save(path)
    bench_app.add_references(bench, [str(path)])
    params = PortraitParams(
        composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=2),
        identity=IdentityParams(steps=2, crop_size=64),
    )
    bench_app.stage_one(bench, params)
    _, _, boxed = bench_app.preview(bench, params, MapEdit())
    assert bench_app.face_label(bench, params).startswith("Face placed, not found (box 0.")
    assert boxed.size == (64, 64) and boxed.tobytes() != bench.base.tobytes()  # box drawn
    result = bench_app.stage_two(bench, params)
    placed = bench_app.face(bench, params).face
    assert result.params.face == "placed"
    assert result.params.identity.face_box == pytest.approx(face_to_box(placed, (64, 64)), abs=1e-4)
    moved = params.model_copy(
        update={"identity": params.identity.model_copy(update={"face_box": (0.1, 0.1, 0.6, 0.6)})}
    )
    assert bench_app.face_label(bench, moved) == FACE_VIEW
    assert bench_app.stage_two(bench, moved).params.face is None  # given, not placed
    strict = params.model_copy(update={"place_face": False})
    with pytest.raises(UserInputError, match="no face found in the base picture"):
        bench_app.preview(bench, strict, MapEdit())


def test_an_edited_map_is_derived_once_per_content(monkeypatch) -> None:
    from workbench import maps

    derived = []
    monkeypatch.setattr(maps, "derived_maps", maps.DerivedMaps(size=2))
    real = maps.apply_paint
    monkeypatch.setattr(maps, "apply_paint", lambda *a: derived.append(1) or real(*a))
    auto = np.full((8, 8), 0.25, dtype=np.float32)
    paint = Image.new("RGBA", (8, 8), (255, 255, 255, 255))
    first = MapEdit(paint=paint)(auto)
    first[:] = 0  # a caller's change does not reach the cache
    again = MapEdit(paint=paint.copy())(auto.copy())  # equal content, other objects
    assert len(derived) == 1 and again.min() == 1.0
    MapEdit(paint=paint, strength=0.5)(auto)
    MapEdit(paint=paint)(auto + 0.5)
    MapEdit(paint=paint)(auto)  # pushed out by the two newer ones: derived again
    assert len(derived) == 4
