"""A 2×2 workbench sweep whose every cell carries its likeness score."""

import re

from core.config import load_settings
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from workbench.engine import Bench, Workbench
from workbench.sweep import parse_values

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=2),
    identity=IdentityParams(steps=2, crop_size=64),
)


def test_two_by_two_sweep_cells_carry_scores(portrait_pipeline, astronaut, tmp_path) -> None:
    bench_app = Workbench(load_settings(data_dir=tmp_path), portrait_pipeline)
    path = tmp_path / "astronaut.png"
    astronaut.save(path)
    bench = Bench()
    bench_app.add_references(bench, [str(path)])
    bench.base = astronaut  # the photo itself as the base, as "keep my composition" does
    axes = [
        ("identity.mask_core", parse_values("0.3, 0.6")),
        ("identity.seed", parse_values("0, 1")),
    ]
    result = bench_app.sweep(bench, PARAMS, axes)
    ((sheet, _),), cells = result.grids, result.cells
    labels = [label for _, label in cells]
    print("\n" + "\n".join(labels))
    assert len(labels) == 4 and all(" · likeness " in label for label in labels)
    assert labels[0].startswith("mask_core=0.3, seed=0 · likeness")
    # A small repainted core keeps the astronaut recognisable even on random models.
    assert re.search(r"likeness 0\.\d\d( · best)?$", labels[0]), labels[0]
    assert sheet.size == (2 * 256, 2 * (256 + 22))
