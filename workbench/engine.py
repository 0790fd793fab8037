"""What the workbench does, as plain functions over a per-visitor `Bench` state.

The Gradio layer only turns widget values into these calls and their results into widgets.
Every run takes `should_stop` (the Stop button) and reports progress through `on_step`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.config import Settings
from core.diffusion.crop import CropBox, crop, face_crop_box
from core.diffusion.faces import FaceChoice
from core.diffusion.faces.analysis import face_to_box
from core.diffusion.likeness import Likeness
from core.diffusion.masks import face_change_map
from core.diffusion.params import CompositionParams, PortraitParams
from core.diffusion.pngmeta import parse_params
from core.diffusion.portrait import PortraitPipeline, PortraitResult
from core.diffusion.progress import OnStep, ShouldStop, never
from core.diffusion.references import Reference, find_face, reference_from_face
from core.errors import NoFaceError, UserInputError
from core.modelkit.layout import ModelLayout
from core.photos import read_photo
from core.sharing import once
from workbench.maps import BOX_COLOUR, MapEdit, overlay
from workbench.sweep import Axis, Cell, expand, touches_stage_one, unet_steps
from workbench.sweep_sheet import SweepResult, read_controls_file, sweep_result

STAGED = 6  # stage-2 results kept side by side to compare, accept or reject
OnCell = Callable[[int, int, str], None]  # (k, n, label), k from 1
OnResult = Callable[[Cell, PortraitResult, Likeness], None]  # a sweep cell, done and scored
FACE_VIEW = "Face box and crop"


@dataclass
class Stats:
    stage1_runs: int = 0
    stage1_unet_calls: int = 0
    stage2_runs: int = 0
    stage2_unet_calls: int = 0


@dataclass
class Bench:
    """One operator's session: references, the kept stage-1 base, staged results, counters.

    Two events of one browser tab may run at once (a map preview beside a stage-2 run, each on
    Gradio's thread pool): fields are replaced whole, never changed in place, so a reader sees
    the old value or the new one. The images are read only. The counters may miss a count
    under such a race; they are diagnostics.
    """

    references: list[Reference] = field(default_factory=list)
    face_set: str | None = None  # the saved set the references came from; None: uploaded
    base: Image.Image | None = None
    stats: Stats = field(default_factory=Stats)
    staged: list[PortraitResult] = field(default_factory=list)
    scores: dict[int, Likeness] = field(default_factory=dict)  # id(staged result) → likeness
    # The face found on a base, per face box; holds the base too, so its id stays unique.
    _faces: dict[tuple, tuple[Image.Image, FaceChoice]] = field(default_factory=dict)


class Workbench:
    """Process-wide parts, loaded once: the pipeline, the prompt agent, the store.

    Shared by every session and Gradio worker thread: the pipeline lets one painting at a time
    hold the models (others wait), the face analyser and likeness meter are thread-safe, and
    the lazily built parts are built once under a lock (`once`).
    """

    def __init__(self, settings: Settings, pipeline: PortraitPipeline) -> None:
        self.settings, self.pipeline = settings, pipeline

    @once
    def agent(self):
        from core.prompt.agent import make_agent

        return make_agent(self.settings)

    # 1. References: all found, or none taken (state and gallery always agree)
    def add_references(self, bench: Bench, paths: list[str]) -> list[tuple[Image.Image, str]]:
        photos = [(Path(path).name, read_photo(Path(path))) for path in paths]
        return self.add_photos(bench, photos, face_set=None)

    def add_photos(
        self, bench: Bench, photos: list[tuple[str, Image.Image]], face_set: str | None
    ) -> list[tuple[Image.Image, str]]:
        size = self.pipeline.identity.encoder.config.image_size
        references, shown = [], []
        for number, (filename, image) in enumerate(photos, 1):
            name = f"photo {number} ({filename})"
            choice = find_face(name, image, self.pipeline.analyzer)
            references.append(reference_from_face(name, image, choice, size))
            shown.append((draw_face(image, choice.face), choice.note or name))
        bench.references, bench.face_set = references, face_set
        return shown

    # 2. Prompt
    def write_prompt(self, idea: str, style: str, seed: int):
        return self.agent.run(idea, style=style, seed=seed)

    # 3. Stage 1 alone: the kept base
    def stage_one(
        self,
        bench: Bench,
        params: PortraitParams,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
    ) -> Image.Image:
        bench.base = self.compose(bench, params.composition, on_step, should_stop)
        return bench.base

    def compose(
        self,
        bench: Bench,
        params: CompositionParams,
        on_step: OnStep | None,
        should_stop: ShouldStop,
    ) -> Image.Image:
        result = self.pipeline.composition(params, on_step=on_step, should_stop=should_stop)
        bench.stats.stage1_runs += 1
        bench.stats.stage1_unet_calls += len(result.unet_batches)
        return result.image

    # 4. The face and the change map on the kept base, before any diffusion
    def face(self, bench: Bench, params: PortraitParams, base: Image.Image | None = None):
        base = base if base is not None else self.kept_base(bench)
        box = checked_face_box(params)
        # a placed face also follows the prompt's framing and the references' faces
        key = (id(base), box, params.place_face, params.composition.prompt, id(bench.references))
        cached = bench._faces.get(key)  # one read: another thread may replace the dict
        if cached is not None:
            return cached[1]
        found = self.pipeline.find_face(base, params)
        if found is None and not params.place_face:
            raise NoFaceError("no face found in the base picture; draw a face box by hand")
        found = found or self.pipeline.place(base, params, bench.references)
        bench._faces = {key: (base, found)}  # replaced whole, never mutated; one base is plenty
        return found

    def face_label(self, bench: Bench, params: PortraitParams) -> str:
        """The face view's caption: a placed face says so, with its box to start a move from."""
        face = self.face(bench, params)
        if face.how != "placed":
            return FACE_VIEW
        box = ", ".join(f"{v:.2f}" for v in face_to_box(face.face, self.kept_base(bench).size))
        return f"Face placed, not found (box {box}): drag a face box on it (or type one) to move it"

    def change_map(
        self, bench: Bench, params: PortraitParams, edit: MapEdit
    ) -> tuple[Image.Image, np.ndarray, CropBox]:
        p, base = params.identity, self.kept_base(bench)
        face = self.face(bench, params).face
        box = face_crop_box(face, base.size, p.crop_margin, p.crop_size)
        auto = face_change_map(face, box, p.mask_core, p.mask_dilation, p.mask_feather)
        return crop(base, box), edit(auto), box

    def preview(
        self, bench: Bench, params: PortraitParams, edit: MapEdit
    ) -> tuple[Image.Image, Image.Image, Image.Image]:
        """The crop under its change map, the bare crop (to paint on), and the base with
        the face box and crop square drawn."""
        face_crop, change, box = self.change_map(bench, params, edit)
        face = self.face(bench, params).face
        return overlay(face_crop, change), face_crop, draw_box(self.kept_base(bench), face, box)

    # 5. Stage 2 on the kept base, as often as wanted
    def stage_two(
        self,
        bench: Bench,
        params: PortraitParams,
        edit: MapEdit | None = None,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
        base: Image.Image | None = None,
    ) -> PortraitResult:
        base = base if base is not None else self.kept_base(bench)
        if not bench.references:
            raise UserInputError("add at least one reference photo first")
        result = self.pipeline.refine(
            base,
            self.face(bench, params, base),
            params,
            bench.references,
            on_step=on_step,
            should_stop=should_stop,
            edit_map=edit,
        )
        bench.stats.stage2_runs += 1
        bench.stats.stage2_unet_calls += len(result.unet_batches["identity"])
        return result

    def stage(self, bench: Bench, result: PortraitResult) -> Likeness:
        """Keep a stage-2 result to compare, with its likeness (is the person recognisable?)."""
        score = self.likeness.measure(result.final, result.params, bench.references)
        bench.staged = [result, *bench.staged][:STAGED]
        kept = {id(r) for r in bench.staged}
        bench.scores = {k: v for k, v in bench.scores.items() if k in kept}
        bench.scores[id(result)] = score
        return score

    @staticmethod
    def score_of(bench: Bench, result: PortraitResult) -> Likeness:
        return bench.scores[id(result)]

    def kept_base(self, bench: Bench) -> Image.Image:
        if bench.base is None:
            raise UserInputError("run stage 1 or upload a base picture first")
        return bench.base

    # 6. Sweeps: the kept base is never replaced; stage 1 runs once per distinct set
    def sweep(
        self,
        bench: Bench,
        params: PortraitParams,
        axes: list[Axis],
        on_step: OnStep | None = None,
        on_cell: OnCell | None = None,
        should_stop: ShouldStop = never,
        on_result: OnResult | None = None,
    ) -> SweepResult:
        cells: list[Cell] = expand(params, axes)
        stage_one = touches_stage_one(axes)
        if not stage_one:
            self.kept_base(bench)
        bases: dict[CompositionParams, Image.Image] = {}
        images, scores = [], []
        for k, cell in enumerate(cells, 1):
            if on_cell is not None:
                on_cell(k, len(cells), cell.label)
            base = bench.base
            if stage_one:
                wanted = cell.params.composition
                if wanted not in bases:
                    bases[wanted] = self.compose(bench, wanted, on_step, should_stop)
                base = bases[wanted]
            result = self.stage_two(
                bench, cell.params, on_step=on_step, should_stop=should_stop, base=base
            )
            # every cell scored: does this setting keep the person recognisable? The best is marked.
            scores.append(self.likeness.measure(result.final, cell.params, bench.references))
            images.append(result.final)
            if on_result is not None:  # e.g. kept in the history as it finishes
                on_result(cell, result, scores[-1])
        return sweep_result(params, axes, cells, images, scores, unet_steps(cells, stage_one))

    def likeness_of(self, bench: Bench, image: Image.Image, params: PortraitParams) -> str:
        """ "likeness 0.71" for a sweep cell: does this setting keep the person recognisable?"""
        return self.likeness.measure(image, params, bench.references).label

    @once
    def previewer(self):
        return self.pipeline.previewer(ModelLayout(self.settings.models_path))

    @once
    def likeness(self):
        import torch

        layout = ModelLayout(self.settings.models_path)
        return self.pipeline.likeness_meter(layout, torch.device("cpu"))

    # 7. Reproduce
    @staticmethod
    def params_from_file(path: str) -> PortraitParams:
        """The parameters of a narcis PNG or JSON file (a sweep's included)."""
        return read_controls_file(Path(path)).params

    # 8. Presets, shared with the bot
    def save_preset(self, name: str, params: PortraitParams, owner: str = "workbench") -> None:
        from core.store.presets import save_preset

        self._with_db(lambda db: save_preset(db, name, params.model_dump(mode="json"), owner))

    def load_preset(self, name: str) -> PortraitParams:
        from core.store.presets import load_preset

        stored = self._with_db(lambda db: load_preset(db, name))
        return parse_portrait_params(json.dumps(stored))

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
    checked_face_box(params)
    return params


def checked_face_box(params: PortraitParams) -> tuple[float, ...] | None:
    """A hand-drawn face box must have a size; the message names the bad corner."""
    box = params.identity.face_box
    if box is not None:
        x0, y0, x1, y1 = box
        if not (x1 > x0 and y1 > y0):
            raise UserInputError(
                f"face box {x0:g}, {y0:g}, {x1:g}, {y1:g} has no size: "
                "x1 must be greater than x0 and y1 greater than y0"
            )
    return box


def draw_face(image: Image.Image, face) -> Image.Image:
    """The photo with its detected box and landmarks drawn on."""
    shown = image.copy()
    draw = ImageDraw.Draw(shown)
    draw.rectangle(face.box, outline=BOX_COLOUR, width=max(2, image.width // 200))
    radius = max(2, image.width // 250)
    for x, y in np.asarray(face.landmarks):
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(80, 220, 160))
    return shown


def draw_box(base: Image.Image, face, box: CropBox) -> Image.Image:
    """The base with the face box (gold) and the square stage 2 repaints (grey)."""
    shown = draw_face(base.convert("RGB"), face)
    ImageDraw.Draw(shown).rectangle(box.box, outline=(160, 160, 170), width=1)
    return shown


def stats_json(bench: Bench) -> str:
    return json.dumps({**bench.stats.__dict__, "references": len(bench.references)})
