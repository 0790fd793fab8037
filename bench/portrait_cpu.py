"""Seconds and UNet calls per stage for a tiny-model portrait on this CPU (a benchmark, not a test).

    .venv/bin/python bench/portrait_cpu.py [--steps 20] [--size 256] [--runs 3]

Stage 1 runs on a picture of its own; stage 2 refines the astronaut photo (tiny random models
paint no faces, so the two stages are timed on their own inputs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from rich.console import Console
from rich.table import Table
from skimage import data

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.modelkit.layout import ModelLayout
from core.modelkit.tiny import build_tiny


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=256, help="stage-1 side and stage-2 crop")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as folder:
        build_tiny(Path(folder))
        pipeline = PortraitPipeline.load(
            ModelLayout(Path(folder)), torch.device("cpu"), torch.float32
        )
    astronaut = Image.fromarray(data.astronaut())
    references = pipeline.references([("astronaut.png", astronaut)])
    params = PortraitParams(
        composition=CompositionParams(
            prompt="byzantine emperor",
            width=args.size,
            height=args.size,
            steps=args.steps,
            guidance_scale=8,
        ),
        identity=IdentityParams(steps=args.steps, crop_size=args.size, guidance_scale=4),
    )
    rows: dict[str, list[float]] = {"composition": [], "identity": [], "refine (incl. faces)": []}
    calls: dict[str, list[int]] = {}
    for _ in range(args.runs + 1):  # the first run warms up and is dropped
        started = time.perf_counter()
        base = pipeline.composition(params.composition)
        rows["composition"].append(time.perf_counter() - started)
        result = pipeline.refine(astronaut, None, params, references)
        rows["identity"].append(result.seconds["identity"])
        rows["refine (incl. faces)"].append(result.seconds["refine"])
        calls = {"composition": base.unet_batches, "identity": result.unet_batches["identity"]}

    table = Table(title=f"tiny portrait on CPU: {args.steps}+{args.steps} steps, {args.size}²")
    for column in ("stage", "median s", "UNet calls", "at batch 2", "at batch 1"):
        table.add_column(column)
    for stage, times in rows.items():
        batches = calls.get(stage)
        counts = (
            ("", "", "")
            if batches is None
            else (str(len(batches)), str(batches.count(2)), str(batches.count(1)))
        )
        table.add_row(stage, f"{statistics.median(times[1:]):.3f}", *counts)
    Console().print(table)


if __name__ == "__main__":
    main()
