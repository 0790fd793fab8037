"""The history browser and the face sets, as two folded sections of the workbench page.

`HistoryPanel.build()` lays them out where it is called; `wire()` connects them once every
control exists. Clicking a run loads it into every control in one click and makes it the
newer half of the comparison (the run picked before it is the older half).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy.exc import SQLAlchemyError

from core.diffusion.likeness import Likeness
from core.diffusion.params import PortraitParams
from core.diffusion.portrait import PortraitResult
from core.errors import NarcisError, UserInputError
from core.store.history import NO_FACE_SET, KeptRun, NewRun, RunFilter
from workbench.controls import WIDGET_PATHS, Controls, params_to_controls
from workbench.engine import Bench, Workbench
from workbench.history import EXTRAS, RunHistory, caption, described, new_run, restore
from workbench.sweep import Cell

log = logging.getLogger(__name__)
ANY_SET, UPLOADED = "(any)", "(uploaded photos)"


def operator_of(request: gr.Request | None) -> str:
    return getattr(request, "username", None) or "local"


def keep(history: RunHistory, run: NewRun) -> None:
    """Keep a run; if the history cannot take it the operator is told, and the run's result
    still reaches the page (the history is a record, not a step of the run)."""
    try:
        history.record(run)
    except NarcisError as exc:
        gr.Warning(f"not kept in the history: {exc}")
    except (SQLAlchemyError, OSError) as exc:  # the database or the media store is down
        log.warning("run not kept in the history: %s", exc)
        gr.Warning(f"not kept in the history: the store failed ({type(exc).__name__})")


def keep_stage_one(
    history: RunHistory,
    request: gr.Request | None,
    state: Bench,
    params: PortraitParams,
    image: Image.Image,
    started: float,
    style: str,
) -> None:
    seconds = {"total": time.perf_counter() - started}
    pictures = {"base": image}
    run = new_run(
        "stage1",
        operator_of(request),
        params,
        pictures,
        extras={"style": style},
        face_set=state.face_set,
        timings=seconds,
    )
    keep(history, run)


def keep_stage_two(
    history: RunHistory,
    request: gr.Request | None,
    state: Bench,
    result: PortraitResult,
    likeness: Likeness,
    page: dict[str, Any],
) -> None:
    """`page`: the controls beside the parameters (style, map strength, invert)."""
    pictures = {"final": result.final, "base": result.base}
    run = new_run(
        "stage2",
        operator_of(request),
        result.params,
        pictures,
        extras=page,
        face_set=state.face_set,
        likeness=likeness,
        timings=result.seconds,
    )
    keep(history, run)


def cell_keeper(history: RunHistory, request: gr.Request | None, state: Bench) -> Callable:
    """The sweep's `on_result`: each cell kept as it finishes, so a stopped sweep keeps what
    it painted."""

    def kept(cell: Cell, result: PortraitResult, likeness: Likeness) -> None:
        run = new_run(
            "cell",
            operator_of(request),
            result.params,
            {"final": result.final},
            face_set=state.face_set,
            likeness=likeness,
            timings=result.seconds,
            label=cell.label,
        )
        keep(history, run)

    return kept


def parse_day(text: str, what: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise UserInputError(f"{what} date {text!r}: write it as YYYY-MM-DD") from None


def run_filter(face_set: str, idea: str, since: str, until: str) -> RunFilter:
    last = parse_day(until, "to")
    return RunFilter(
        face_set={ANY_SET: None, UPLOADED: NO_FACE_SET}.get(face_set, face_set),
        idea=idea or None,
        since=parse_day(since, "from"),
        until=None if last is None else last + timedelta(days=1),  # the "to" day included
    )


def missing(size: int = 128) -> Image.Image:
    """What a run whose thumbnail file is gone shows instead."""
    image = Image.new("RGB", (size, size), (60, 60, 66))
    ImageDraw.Draw(image).text((10, size // 2 - 6), "thumbnail gone", fill=(220, 220, 220))
    return image


def picture(history: RunHistory, run: KeptRun) -> Image.Image | None:
    name = "final" if "final" in run.thumbnails else "base"
    return history.thumbnail(run, name)


def difference(a: Image.Image, b: Image.Image) -> Image.Image:
    """|a − b|, stretched so that the largest difference is white."""
    b = b.resize(a.size) if b.size != a.size else b
    diff = np.asarray(ImageChops.difference(a, b).convert("L"), dtype=np.float32)
    top = float(diff.max()) or 1.0
    return Image.fromarray((diff * (255.0 / top)).astype(np.uint8))


@dataclass
class HistoryPanel:
    face_filter: gr.Dropdown
    idea_filter: gr.Textbox
    since: gr.Textbox
    until: gr.Textbox
    show: gr.Button
    gallery: gr.Gallery
    listed: gr.JSON  # ids of the runs the gallery shows, in its order
    pair: gr.State  # the last two runs picked, older first
    about: gr.Markdown
    compare: gr.ImageSlider
    diff: gr.Image
    face_set: gr.Dropdown
    use: gr.Button
    save: gr.Button
    erase: gr.Button
    sure: gr.Checkbox

    @classmethod
    def build(cls) -> HistoryPanel:
        with gr.Accordion("History", open=False, elem_id="history"):
            with gr.Row():
                face_filter = gr.Dropdown([ANY_SET, UPLOADED], value=ANY_SET, label="Face set")
                idea_filter = gr.Textbox(label="Idea contains")
                since = gr.Textbox(label="From (YYYY-MM-DD)")
                until = gr.Textbox(label="To (YYYY-MM-DD)")
            show = gr.Button("Show runs", elem_id="history-show")
            gallery = gr.Gallery(
                label="Runs, newest first: click one to load it into every control",
                columns=6,
                height=260,
                format="png",
                allow_preview=False,
                elem_id="history-gallery",
            )
            listed = gr.JSON([], visible=False)  # a component, not a State: the API returns it
            about = gr.Markdown(elem_id="history-run")
            with gr.Row():
                compare = gr.ImageSlider(
                    label="The last two picked",
                    type="pil",
                    format="png",
                    elem_id="history-compare",
                )
                diff = gr.Image(
                    label="Difference (brighter = more different)",
                    type="pil",
                    format="png",
                    interactive=False,
                    elem_id="history-difference",
                )
        with gr.Accordion("Face sets", open=False, elem_id="face-sets"):
            face_set = gr.Dropdown(label="Face set", choices=[], allow_custom_value=True)
            with gr.Row():
                use = gr.Button("Use this face set")
                save = gr.Button("Save the reference photos under this name")
            with gr.Row():
                sure = gr.Checkbox(label="Yes: erase its photos, its runs and their thumbnails")
                erase = gr.Button("Erase this face set", variant="stop")
        return cls(
            face_filter, idea_filter, since, until, show, gallery, listed, gr.State([]),
            about, compare, diff, face_set, use, save, erase, sure,
        )  # fmt: skip

    def wire(
        self,
        demo: gr.Blocks,
        history: RunHistory,
        bench_app: Workbench,
        *,
        bench: gr.State,
        files: gr.File,
        faces: gr.Gallery,
        params_json: gr.Code,
        controls: Controls,
        extras: dict[str, gr.components.Component],
        plot: gr.Image,
        plot_for: Callable,
        user_errors: Callable,
    ) -> None:
        filters = [self.face_filter, self.idea_filter, self.since, self.until]
        listing = [self.gallery, self.listed]

        @user_errors
        def show_runs(face_set: str, idea: str, since: str, until: str):
            runs = history.runs(run_filter(face_set, idea, since, until))
            items = [(picture(history, run) or missing(), caption(run)) for run in runs]
            return items, [str(run.id) for run in runs]

        self.show.click(show_runs, filters, listing, api_name="history")
        self._show_runs = show_runs

        restored_outputs = [
            params_json,
            *(controls[name] for name in WIDGET_PATHS),
            *(extras[name] for name in EXTRAS),
            plot,
        ]

        @user_errors
        def pick(listed: list[str], pair: list[str], event: gr.SelectData):
            if not 0 <= event.index < len(listed or []):
                raise UserInputError("the list changed: press “Show runs” and pick again")
            return load_run(history.run(listed[event.index]), pair)

        def load_run(run: KeptRun, pair: list[str]):
            restored = restore(run.controls)  # refuses before anything changes on the page
            for note in restored.notes:
                gr.Warning(note)
            values = params_to_controls(restored.params)
            pair = [*pair[-1:], str(run.id)]
            shown = picture(history, run)
            about = described(run) + ("" if shown else "  \n⚠️ its thumbnail file is gone")
            return (
                restored.params.model_dump_json(indent=2),
                *(values[name] for name in WIDGET_PATHS),
                *(restored.extras.get(name, gr.skip()) for name in EXTRAS),
                plot_for(restored.params),
                about,
                *self.compared(history, pair),
                pair,
                run.face_set or gr.skip(),  # ready for "Use this face set"
            )

        compared = [self.about, self.compare, self.diff, self.pair, self.face_set]
        self.gallery.select(
            pick, [self.listed, self.pair], restored_outputs + compared, api_name=False
        )

        @user_errors
        def load_by_id(run_id: str):  # the same as a click, by id (for scripts and tests)
            return load_run(history.run(run_id), [])

        gr.Button(visible=False).click(
            load_by_id, gr.Textbox(visible=False), restored_outputs + compared, api_name="load_run"
        )
        self.wire_face_sets(history, bench_app, bench, files, faces, user_errors)
        demo.load(self.refreshed(history), None, [self.face_filter, self.face_set], api_name=False)
        demo.load(show_runs, filters, listing, api_name=False)

    def refresh_after(self, event) -> None:
        """List the runs again once `event` (a run) ends, so the newest run shows first."""
        filters = [self.face_filter, self.idea_filter, self.since, self.until]
        listing = [self.gallery, self.listed]
        event.then(self._show_runs, filters, listing, api_name=False, show_progress="hidden")

    def compared(self, history: RunHistory, pair: list[str]) -> tuple[Any, Any]:
        """The slider and the difference of the last two picked; empty while one of them
        is missing (its thumbnail file gone, or the run erased since it was picked)."""
        pictures = []
        for run_id in pair:
            try:
                pictures.append(picture(history, history.run(run_id)))
            except UserInputError:  # erased since
                pictures.append(None)
        if len(pictures) < 2 or any(p is None for p in pictures):
            return None, None
        return tuple(pictures), difference(*pictures)

    @staticmethod
    def refreshed(history: RunHistory) -> Callable:
        def choices():
            names = history.face_set_names()
            return (
                gr.Dropdown(choices=[ANY_SET, UPLOADED, *names]),
                gr.Dropdown(choices=names),
            )

        return choices

    def wire_face_sets(
        self,
        history: RunHistory,
        bench_app: Workbench,
        bench: gr.State,
        files: gr.File,
        faces: gr.Gallery,
        user_errors: Callable,
    ) -> None:
        from core.photos import load_photo

        choices = [self.face_filter, self.face_set]

        @user_errors
        def use(state: Bench | None, name: str):
            state = state or Bench()
            photos = [
                (f"{name} {n}", load_photo(data, f"{name}-{n}.png"))
                for n, data in enumerate(history.face_set_photos(name or ""), 1)
            ]
            shown = bench_app.add_photos(state, photos, face_set=name.strip().lower())
            return shown, state

        self.use.click(use, [bench, self.face_set], [faces, bench], api_name="use_face_set")

        @user_errors
        def save(name: str, paths: list[str] | None, request: gr.Request):
            photos = [(Path(p).name, Path(p).read_bytes()) for p in paths or []]
            count = history.save_face_set(name or "", photos, operator_of(request))
            gr.Info(f"face set {name.strip().lower()!r} saved with {count} photos")
            return self.refreshed(history)()

        self.save.click(save, [self.face_set, files], choices, api_name="save_face_set")

        @user_errors
        def erase(name: str, sure: bool):
            if not sure:
                raise UserInputError("tick “Yes: erase …” first: erasing cannot be undone")
            runs = history.erase_face_set(name or "")
            gr.Info(f"face set {name!r} erased, with its {runs} runs")
            return *self.refreshed(history)(), False

        self.erase.click(
            erase, [self.face_set, self.sure], [*choices, self.sure], api_name="erase_face_set"
        )
