"""What the workbench does, as plain functions over a per-visitor `Bench` state.

The Gradio layer only turns widget values into these calls and their results into widgets.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.config import Settings
from core.diffusion.params import PortraitParams
from core.diffusion.pngmeta import parse_params, read_params
from core.diffusion.portrait import PortraitPipeline, PortraitResult
from core.diffusion.progress import OnStep
from core.diffusion.references import Reference, find_face, reference_from_face
from core.errors import UserInputError
from core.photos import read_photo
from workbench.maps import apply_paint
from workbench.sweep import Cell, expand, grid, touches_stage_one


@dataclass
class Stats:
    stage1_runs: int = 0
    stage1_unet_calls: int = 0
    stage2_runs: int = 0
    stage2_unet_calls: int = 0


@dataclass
class Bench:
    """One operator's session: references, the kept stage-1 base, counters."""

    references: list[Reference] = field(default_factory=list)
    base: Image.Image | None = None
    stats: Stats = field(default_factory=Stats)
    last: PortraitResult | None = None


class Workbench:
    """Process-wide parts, loaded once: the pipeline, the prompt agent, the store."""

    def __init__(self, settings: Settings, pipeline: PortraitPipeline) -> None:
        self.settings, self.pipeline = settings, pipeline

    @cached_property
    def agent(self):
        from core.prompt.agent import make_agent

        return make_agent(self.settings)

    # 1. References
    def add_references(self, bench: Bench, paths: list[str]) -> list[tuple[Image.Image, str]]:
        size = self.pipeline.identity.encoder.config.image_size
        bench.references, shown = [], []
        for number, path in enumerate(paths, 1):
            name = f"photo {number} ({Path(path).name})"
            image = read_photo(Path(path))
            choice = find_face(name, image, self.pipeline.analyzer)
            bench.references.append(reference_from_face(name, image, choice, size))
            shown.append((draw_face(image, choice.face), choice.note or name))
        return shown

    # 2. Prompt
    def write_prompt(self, idea: str, style: str, seed: int):
        return self.agent.run(idea, style=style, seed=seed)

    # 3. Stage 1 alone
    def stage_one(
        self, bench: Bench, params: PortraitParams, on_step: OnStep | None = None
    ) -> Image.Image:
        result = self.pipeline.composition(params.composition, on_step=on_step)
        bench.base = result.image
        bench.stats.stage1_runs += 1
        bench.stats.stage1_unet_calls += len(result.unet_batches)
        return result.image

    # 4. Stage 2 on the kept base, as often as wanted
    def stage_two(
        self,
        bench: Bench,
        params: PortraitParams,
        paint: Image.Image | None = None,
        on_step: OnStep | None = None,
    ) -> PortraitResult:
        if bench.base is None:
            raise UserInputError("run stage 1 or upload a base picture first")
        if not bench.references:
            raise UserInputError("add at least one reference photo first")
        edit = (lambda change: apply_paint(change, paint)) if paint is not None else None
        result = self.pipeline.refine(
            bench.base, None, params, bench.references, on_step=on_step, edit_map=edit
        )
        bench.stats.stage2_runs += 1
        bench.stats.stage2_unet_calls += len(result.unet_batches["identity"])
        bench.last = result
        return result

    # 5. Sweeps
    def sweep(
        self,
        bench: Bench,
        params: PortraitParams,
        axes: list[tuple[str, list[str]]],
        on_step: OnStep | None = None,
    ) -> tuple[Image.Image, list[tuple[Image.Image, str]]]:
        cells: list[Cell] = expand(params, axes)
        images, labels = [], []
        for cell in cells:
            if touches_stage_one(axes):
                self.stage_one(bench, cell.params, on_step)
            images.append(self.stage_two(bench, cell.params, on_step=on_step).final)
            labels.append(f"{cell.label} · {self.likeness_of(bench, images[-1], cell.params)}")
        columns = len(axes[0][1]) if axes else 1
        return grid(images, labels, columns), list(zip(images, labels, strict=True))

    def likeness_of(self, bench: Bench, image: Image.Image, params: PortraitParams) -> str:
        """ "likeness 0.71" for a sweep cell: does this setting keep the person recognisable?"""
        return self.likeness.measure(image, params, bench.references).label

    @cached_property
    def previewer(self):
        """Live previews: a tiny VAE from the models folder, or the linear approximation."""
        from core.diffusion.preview import Previewer
        from core.modelkit.layout import ModelLayout

        c = self.pipeline.composition.components
        return Previewer.load(ModelLayout(self.settings.models_path).taesdxl, c.device, c.dtype)

    @cached_property
    def likeness(self):
        import torch

        from core.diffusion.likeness import LikenessMeter
        from core.modelkit.layout import ModelLayout

        clip = ModelLayout(self.settings.models_path).clip
        return LikenessMeter.load(self.pipeline.analyzer, clip, torch.device("cpu"))

    # 6. Reproduce
    @staticmethod
    def params_from_file(path: str) -> PortraitParams:
        if path.lower().endswith(".png"):
            params = read_params(Path(path))
        else:
            params = parse_params(Path(path).read_text(), source=Path(path).name)
        if params.kind != "portrait":
            raise UserInputError(f"{Path(path).name} holds stage-1 parameters only")
        return params

    # 7. Presets, shared with the bot
    def save_preset(self, name: str, params: PortraitParams, owner: str = "workbench") -> None:
        from core.store.presets import save_preset

        self._with_db(lambda db: save_preset(db, name, params.model_dump(mode="json"), owner))

    def load_preset(self, name: str) -> PortraitParams:
        from core.store.presets import load_preset

        return PortraitParams.model_validate(self._with_db(lambda db: load_preset(db, name)))

    def preset_names(self) -> list[str]:
        from core.store.presets import preset_names

        return self._with_db(preset_names)

    def _with_db(self, work):
        """Gradio calls us from worker threads, each needing its own event loop (and so its
        own connection pool): open the database for the call, close it after."""
        from core.store.db import Database

        async def run():
            db = Database(self.settings.database)
            try:
                return await work(db)
            finally:
                await db.dispose()

        return asyncio.run(run())


def parse_portrait_params(text: str) -> PortraitParams:
    params = parse_params(text)
    if params.kind != "portrait":
        raise UserInputError("these are stage-1 parameters; a portrait needs both stages")
    return params


def draw_face(image: Image.Image, face) -> Image.Image:
    """The photo with its detected box and landmarks drawn on."""
    shown = image.copy()
    draw = ImageDraw.Draw(shown)
    draw.rectangle(face.box, outline=(216, 180, 106), width=max(2, image.width // 200))
    radius = max(2, image.width // 250)
    for x, y in np.asarray(face.landmarks):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(80, 220, 160))
    return shown


def stats_json(bench: Bench) -> str:
    return json.dumps(bench.stats.__dict__)
