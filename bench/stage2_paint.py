"""Stage-2 seconds on the workbench with and without a painted map (a benchmark, not a test).

    .venv/bin/python bench/stage2_paint.py [--steps 8] [--size 512] [--runs 3]

Each round runs the workbench's stage 2 on the kept base three ways: no edit, a painted map
(strokes over a third of the crop), and the same painted map again (its derived map comes from
the cache). Also timed alone: deriving the map from the strokes, cold and cached. Target: the
painted run costs what the plain one does.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from rich.console import Console
from rich.table import Table
from skimage import data

from core.config import load_settings
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.modelkit.layout import ModelLayout
from core.modelkit.tiny import build_tiny
from workbench.engine import Bench, Workbench
from workbench.maps import MapEdit, derived_maps


def strokes(side: int, shade: int) -> Image.Image:
    """Brush strokes as the editor sends them: an RGBA layer at the crop's size."""
    layer = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for k in range(12):
        y = side * (0.1 + 0.06 * k)
        draw.line([(side * 0.05, y), (side * 0.4, y)], fill=(255, 255, 255, shade), width=9)
    return layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=512, help="base side and stage-2 crop")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        build_tiny(Path(folder))
        layout = ModelLayout(Path(folder))
        pipeline = PortraitPipeline.load(layout, torch.device("cpu"), torch.float32)
        settings = load_settings(data_dir=Path(folder) / "var", models_dir=Path(folder))
        bench_app = Workbench(settings, pipeline)
        astronaut = Image.fromarray(data.astronaut()).resize((args.size, args.size))
        bench = Bench(references=pipeline.references([("astronaut.png", astronaut)]))
        bench.base = astronaut
        params = PortraitParams(
            composition=CompositionParams(prompt="byzantine emperor", steps=args.steps),
            identity=IdentityParams(steps=args.steps, crop_size=args.size),
        )
        rows: dict[str, list[float]] = {}

        def timed(name: str, work) -> None:
            started = time.perf_counter()
            work()
            rows.setdefault(name, []).append(time.perf_counter() - started)

        auto = bench_app.change_map(bench, params, MapEdit())[1]
        for run in range(args.runs + 1):  # the first round warms up and is dropped
            painted = MapEdit(paint=strokes(args.size, 200 + run))  # new strokes each round
            derived_maps.clear()
            timed("derive the map from strokes (cold)", lambda e=painted: e(auto))
            timed("derive the map from strokes (cached)", lambda e=painted: e(auto))
            derived_maps.clear()
            timed("stage 2, no edit", lambda: bench_app.stage_two(bench, params))
            for name in ("stage 2, painted map", "stage 2, same painted map"):
                timed(name, lambda e=painted: bench_app.stage_two(bench, params, e))

    table = Table(title=f"workbench stage 2 on CPU: {args.steps} steps, {args.size}² crop")
    table.add_column("what")
    table.add_column("median s")
    for name, times in rows.items():
        table.add_row(name, f"{statistics.median(times[1:]):.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()
