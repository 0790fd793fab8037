"""The workbench's plain functions: map painting, schedule plots, sweeps, parameter files."""

import numpy as np
import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import save_png
from core.errors import UserInputError
from workbench.engine import Workbench, parse_portrait_params
from workbench.maps import apply_paint, paint_layer
from workbench.plots import active_fractions, schedule_plot
from workbench.sweep import expand, grid, parse_values, touches_stage_one

BASE = PortraitParams(composition=CompositionParams(prompt="x"), identity=IdentityParams())


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


def test_editor_layers_merge_into_one() -> None:
    first = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    first.putpixel((0, 0), (255, 255, 255, 255))
    second = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    second.putpixel((1, 1), (0, 0, 0, 255))
    merged = paint_layer({"background": None, "layers": [first, second], "composite": None})
    assert merged.getpixel((0, 0)) == (255, 255, 255, 255)
    assert merged.getpixel((1, 1)) == (0, 0, 0, 255)
    assert paint_layer(None) is None and paint_layer({"layers": []}) is None


def test_active_pixels_grow_as_masks_shrink() -> None:
    change = np.tile(np.linspace(0, 1, 10, dtype=np.float32), (10, 1))
    fractions = active_fractions(change, 5)
    assert fractions == sorted(fractions) and fractions[-1] < 1.0 and fractions[0] > 0


def test_schedule_plot_is_an_image_that_changes_with_steps() -> None:
    a, b = schedule_plot(10), schedule_plot(20, np.ones((8, 8), np.float32), 16, 4)
    assert a.size == b.size == (640, 300) and a.tobytes() != b.tobytes()


def test_sweep_expansion_is_every_combination_in_order() -> None:
    cells = expand(
        BASE,
        [("identity.guidance_scale", parse_values("2, 5")), ("identity.seed", parse_values("0,1"))],
    )
    assert [c.label for c in cells] == [
        "guidance_scale=2, seed=0",
        "guidance_scale=2, seed=1",
        "guidance_scale=5, seed=0",
        "guidance_scale=5, seed=1",
    ]
    assert [c.params.identity.guidance_scale for c in cells] == [2, 2, 5, 5]
    assert not touches_stage_one([("identity.seed", ["1"])])
    assert touches_stage_one([("composition.seed", ["1"])])


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ([("identity.prompt", ["a"])], "cannot be swept"),
        ([("identity.steps", ["0"])], "identity.steps = '0'"),
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
