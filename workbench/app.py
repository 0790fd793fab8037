"""`build_ui(workbench) -> gr.Blocks`: lays out the page and wires events, nothing more.

Every event turns widget values into one typed `PortraitParams` (shown as JSON, editable, and
the only thing the run buttons read), calls a plain function of `engine.py`, and maps user
mistakes to `gr.Error`. GPU work shares one concurrency lane; Stop has its own, so it is
heard while a run holds the GPU lane.

No event listens to the map editor: stage 2 reads its strokes once, from a hidden copy made in
the page (workbench/editor_once.py: every ask for the editor's value uploads its images).
(Listening to a component that a run also writes to makes every write trigger another
request; that is how the old page froze.)
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from starlette.middleware import Middleware

from core.config import Settings
from core.diffusion.params import CompositionParams, PortraitParams
from core.errors import Cancelled, ConfigError, NarcisError
from core.prompt.styles import STYLES
from workbench.controls import (
    MAP_CONTROLS,
    WIDGET_PATHS,
    controls_to_params,
    parameter_controls,
    params_to_controls,
)
from workbench.editor_once import editor_copy, read_once
from workbench.engine import FACE_VIEW, Bench, Workbench, parse_portrait_params, stats_json
from workbench.face_drag import FACE_VIEW_ID, face_drag_js
from workbench.history import RunHistory
from workbench.history_ui import HistoryPanel, cell_keeper, keep_stage_one, keep_stage_two
from workbench.live import live
from workbench.login import LoginGuard, LoginLimits
from workbench.maps import MapEdit, editor_value, paint_layer
from workbench.paint_queue import LeftQueue
from workbench.plots import schedule_plot
from workbench.runs import Runs
from workbench.sweep import (
    NONE,
    SWEEPABLE,
    axes_from,
    axis_controls,
    expand,
    stage_costs,
    touches_stage_one,
    unet_steps,
)
from workbench.sweep_sheet import read_controls_file

GPU = "gpu"  # one lane for the short model calls (finding faces)
# Paintings all enter Gradio at once and line up in our own queue (workbench/paint_queue.py),
# which knows each run's place, its ETA, and takes a stopped run out of line.
PAINT = {"concurrency_id": "paint", "concurrency_limit": None}


def user_errors(fn: Callable) -> Callable:
    """Our errors become Gradio error toasts with the message; nothing else is swallowed."""
    if inspect.isgeneratorfunction(fn):  # event functions that stream live previews

        @functools.wraps(fn)
        def streamed(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Cancelled as exc:
                raise gr.Error(stopped(exc)) from None
            except NarcisError as exc:
                raise gr.Error(str(exc)) from None

        return streamed

    @functools.wraps(fn)  # keeps the signature: Gradio names API parameters after it
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Cancelled as exc:
            raise gr.Error(stopped(exc)) from None
        except NarcisError as exc:
            raise gr.Error(str(exc)) from None

    return wrapped


def stopped(exc: Cancelled) -> str:
    """ "Stopped." for a run stopped while painting; a waiting one says it left the queue."""
    return f"Stopped: {exc}." if isinstance(exc, LeftQueue) else "Stopped."


def map_triggers(control: gr.components.Component) -> list:
    """When a map control's value counts: a slider or list at once, a typed face box once it
    is complete (Enter, or leaving the field), not at every key as it is half typed."""
    if isinstance(control, gr.Textbox):
        return [control.submit, control.blur]
    return [control.input]


def build_ui(bench_app: Workbench, runs: Runs, history: RunHistory | None = None) -> gr.Blocks:
    history = history or RunHistory(bench_app.settings)
    with gr.Blocks(title="narcis workbench") as demo:
        bench = gr.State(None)  # a Bench per visitor, made on first use
        picked = gr.State(0)  # the staged result last clicked
        # At 1366×768: the controls scroll in their own column, so the result beside them,
        # with its likeness, stays in view while a slider moves (CSS in `LAYOUT_CSS`).
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, elem_id="controls"):
                gr.Markdown("## narcis workbench")
                files = gr.File(
                    label="Reference photos (1–4)",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                    elem_id="references",
                    height=110,
                )
                analyse = gr.Button("Find faces")
                faces = gr.Gallery(label="Detected faces and landmarks", columns=4, height=120)
                with gr.Group():
                    idea = gr.Textbox(label="Idea", placeholder="byzantine emperor", max_length=60)
                    style = gr.Dropdown(list(STYLES), value="none", label="Style")
                    write = gr.Button("Write prompt")
                    concept = gr.Textbox(label="Concept", interactive=False, lines=3)
                    keywords = gr.Markdown()
                controls = parameter_controls(idea)
                with gr.Accordion("Parameters as JSON", open=False, elem_id="json"):
                    params_json = gr.Code(
                        label="Parameters (editable; applied to the controls when you leave it)",
                        language="json",
                        value=PortraitParams(
                            composition=CompositionParams(prompt="portrait")
                        ).model_dump_json(indent=2),
                    )
                with gr.Accordion("Sweep", open=False):
                    axis_fields = []
                    for position, default, values in (
                        ("X", "identity.guidance_scale", "2, 5"),
                        ("Y", NONE, ""),
                        ("Z", NONE, ""),
                    ):
                        with gr.Row():
                            name = gr.Dropdown(
                                [NONE, *SWEEPABLE],
                                value=default,
                                label=f"{position} parameter",
                                elem_id=f"sweep-{position.lower()}",
                            )
                            text = gr.Textbox(
                                label=f"{position} values (commas; ranges like 1-5 (+2))",
                                value=values,
                                elem_id=f"sweep-{position.lower()}-values",
                            )
                        axis_fields += [name, text]
                    cost = gr.Markdown(elem_id="sweep-cost")
                    run_sweep = gr.Button("Run sweep")
                    grids = gr.Gallery(label="Grids (one per Z value)", columns=1, format="png")
                    cells = gr.Gallery(
                        label="Cells", columns=4, format="png", elem_id="sweep-cells"
                    )
                    sweep_files = gr.File(
                        label="The sweep as one sheet: PNG (parameters inside) and JSON",
                        file_count="multiple",
                        elem_id="sweep-files",
                    )
                with gr.Accordion("Reproduce and presets", open=False):
                    source = gr.File(
                        label="Load parameters from a JSON file or a narcis PNG",
                        type="filepath",
                        elem_id="source",
                    )
                    load = gr.Button("Load parameters")
                    preset_name = gr.Dropdown(label="Preset", allow_custom_value=True, choices=[])
                    with gr.Row():
                        save_preset = gr.Button("Save preset")
                        load_preset = gr.Button("Load preset")
            with gr.Column(scale=1, elem_id="result"):
                with gr.Row():
                    stage1 = gr.Button("Run stage 1", variant="primary")
                    stage2 = gr.Button("Run stage 2", variant="primary")
                    stop = gr.Button("Stop", variant="stop")
                with gr.Row(equal_height=False):
                    final = gr.Image(
                        label="Final (its download carries the parameters)",
                        type="filepath",
                        interactive=False,
                        elem_id="final",
                        height=300,
                    )
                    with gr.Column():
                        score = gr.Markdown(elem_id="score")  # the final's likeness, and by what
                        plot = gr.Image(
                            label="Schedule", interactive=False, height=220, elem_id="plot"
                        )
                base = gr.Image(
                    label="Base picture (stage 1, or upload one)",
                    type="pil",
                    format="png",
                    height=300,
                    elem_id="base",
                )
                with gr.Row():
                    face_view = gr.Image(
                        label=FACE_VIEW,
                        type="pil",
                        interactive=False,
                        format="png",
                        elem_id=FACE_VIEW_ID,  # drag the face box on it (face_drag.py)
                    )
                    map_preview = gr.Image(
                        label="Change map over the crop (follows the map sliders)",
                        type="pil",
                        interactive=False,
                        format="png",
                        elem_id="map-preview",
                    )
                editor = gr.ImageEditor(
                    label="Paint over the crop (white = change, black = keep)",
                    type="pil",
                    image_mode="RGBA",
                    height=360,
                    sources=(),
                    layers=False,
                    transforms=(),
                    format="png",
                    brush=gr.Brush(colors=["#ffffff", "#000000"], color_mode="fixed"),
                    elem_id="map-editor",
                )
                painted_copy = editor_copy()  # what stage 2 reads (editor_once.py)
                with gr.Row():
                    strength = gr.Slider(
                        0, 1, 1, step=0.05, label="Stroke strength (opacity)", elem_id="strength"
                    )
                    invert = gr.Checkbox(label="Invert the map")
                    upload_map = gr.Image(
                        label="Upload a map (white = change)", type="pil", image_mode="L"
                    )
                final_file = gr.File(label="Final PNG (parameters and likeness inside)")
                slider = gr.ImageSlider(label="Before / after", type="pil", format="png")
                steps_view = gr.Gallery(
                    label="Base · crop · map · refined · final",
                    columns=5,
                    format="png",
                    elem_id="steps",
                )
                staged = gr.Gallery(
                    label="Staged results (newest first): click one, then accept or reject",
                    columns=6,
                    format="png",
                    elem_id="staged",
                )
                with gr.Row():
                    accept = gr.Button("Accept: make it the final and load its parameters")
                    reject = gr.Button("Reject: drop it")
                stats = gr.Code(label="Counters", language="json", elem_id="counters")
                past = HistoryPanel.build()

        widgets = [controls[name] for name in WIDGET_PATHS]
        edits = [editor, strength, invert, upload_map]
        past.wire(
            demo,
            history,
            bench_app,
            bench=bench,
            files=files,
            faces=faces,
            params_json=params_json,
            controls=controls,
            extras={"style": style, "map.strength": strength, "map.invert": invert},
            plot=plot,
            plot_for=plot_for,
            user_errors=user_errors,
        )

        def params_of(values: list) -> PortraitParams:
            return controls_to_params(dict(zip(WIDGET_PATHS, values, strict=True)))

        def shown(params: PortraitParams) -> list:
            """The JSON and every widget, for a parameter set that was loaded."""
            values = params_to_controls(params)
            return [params.model_dump_json(indent=2), *(values[n] for n in WIDGET_PATHS)]

        # Widgets → one typed request, shown as JSON (on user input only: a load that sets
        # every widget must not fire one request per widget).
        @user_errors
        def to_json(*values):
            params = params_of(list(values))
            return params.model_dump_json(indent=2), plot_for(params)

        for name in WIDGET_PATHS:
            if name in MAP_CONTROLS:
                continue  # wired below, with the live map preview after it
            controls[name].input(
                to_json,
                widgets,
                [params_json, plot],
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
            )

        @user_errors
        def apply_json(text: str):
            return shown(parse_portrait_params(text))[1:]

        params_json.blur(apply_json, params_json, widgets, api_name=False, show_progress="hidden")

        # The live map preview: crop, map and face box, without any diffusion.
        @user_errors
        def preview(state: Bench | None, text: str, painted, power, flip, uploaded):
            if state is None or state.base is None:
                return None, None
            edit = MapEdit(uploaded, bool(flip), paint_layer(painted), float(power))
            params = parse_portrait_params(text)
            over, _, boxed = bench_app.preview(state, params, edit)
            return over, face_view_of(bench_app, state, params, boxed)

        def refresh(trigger) -> None:
            trigger(
                preview,
                [bench, params_json, *edits],
                [map_preview, face_view],
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
            )

        for name in MAP_CONTROLS:
            for trigger in map_triggers(controls[name]):
                refresh(
                    trigger(
                        to_json,
                        widgets,
                        [params_json, plot],
                        api_name=False,
                        show_progress="hidden",
                        trigger_mode="always_last",  # a drag's last value is the one shown
                    ).then
                )
        refresh(strength.release)
        refresh(invert.input)
        refresh(upload_map.change)

        @user_errors
        def find_faces(state: Bench | None, paths: list[str] | None):
            state = state or Bench()
            return bench_app.add_references(state, paths or []), state

        analyse.click(
            find_faces, [bench, files], [faces, bench], api_name="references", concurrency_id=GPU
        )

        @user_errors
        def write_prompt(idea_text: str, style_name: str, seed: str):
            result = bench_app.write_prompt(idea_text, style_name, int(seed or 0))
            words = "\n".join(f"- **{k}**: {', '.join(v)}" for k, v in result.keywords.items())
            return result.concept, words, result.prompt, result.negative_prompt

        write.click(
            write_prompt,
            [idea, style, controls["composition.seed"]],
            [
                concept,
                keywords,
                controls["composition.prompt"],
                controls["composition.negative_prompt"],
            ],
            api_name="write_prompt",
        ).then(to_json, widgets, [params_json, plot], api_name=False, show_progress="hidden")

        @user_errors
        def fresh_base(state: Bench, text: str):
            """A new base: the editor shows its crop, with no strokes (they were for another)."""
            params = parse_portrait_params(text)
            try:
                over, bare, boxed = bench_app.preview(state, params, MapEdit())
            except NarcisError:
                return None, None, None  # e.g. no face yet: the preview stays empty
            return over, face_view_of(bench_app, state, params, boxed), editor_value(bare, None)

        @user_errors
        def run_stage1(
            state: Bench | None,
            text: str,
            style_name: str,
            request: gr.Request,
            progress=gr.Progress(),
        ):
            state = state or Bench()
            params = parse_portrait_params(text)
            started = time.perf_counter()
            with runs.run(request, progress, {"composition": params.composition.steps}) as run:
                image = yield from live(  # the base, forming in place
                    lambda on_step: bench_app.stage_one(state, params, on_step, run.should_stop),
                    run.on_step,
                    bench_app.previewer,
                    lambda preview: (preview, *[gr.skip()] * 5),
                )
            keep_stage_one(history, request, state, params, image, started, style_name)
            yield (image, stats_json(state), state, *fresh_base(state, text))

        stage1_ran = stage1.click(
            run_stage1,
            [bench, params_json, style],
            [base, stats, bench, map_preview, face_view, editor],
            api_name="stage1",
            **PAINT,
            show_progress_on=[base],  # never over the editor: its overlay could outlive the run
        )
        past.refresh_after(stage1_ran)  # the history shows the new run first

        def set_base(state: Bench | None, image, text: str):
            state = state or Bench()
            state.base = None if image is None else image.convert("RGB")
            if state.base is None:
                return stats_json(state), state, None, None, None
            return stats_json(state), state, *fresh_base(state, text)

        base.upload(
            set_base,
            [bench, base, params_json],
            [stats, bench, map_preview, face_view, editor],
            api_name="set_base",
            show_progress_on=[map_preview],  # never on the editor (editor_once.py)
        )

        @user_errors
        def run_stage2(
            state: Bench | None,
            text: str,
            painted,
            power: float,
            flip: bool,
            uploaded,
            style_name: str,
            request: gr.Request,
            progress=gr.Progress(),
        ):
            state = state or Bench()
            params = parse_portrait_params(text)
            strokes = paint_layer(painted)
            edit = MapEdit(uploaded, bool(flip), strokes, float(power))
            with runs.run(request, progress, {"identity": params.identity.steps}) as run:
                result = yield from live(  # the face crop, forming where the final will be
                    lambda on_step: bench_app.stage_two(
                        state, params, edit, on_step, run.should_stop
                    ),
                    run.on_step,
                    bench_app.previewer,
                    lambda preview: (preview, *[gr.skip()] * 11),
                )
            likeness = bench_app.stage(state, result)
            path = runs.final_png(request, result, likeness)
            page = {"style": style_name, "map.strength": power, "map.invert": bool(flip)}
            keep_stage_two(history, request, state, result, likeness, page)
            change = np.asarray(result.change_map.convert("L"), dtype=np.float32) / 255.0
            over, _, boxed = bench_app.preview(state, params, edit)
            yield (
                str(path),
                str(path),
                editor_value(over, strokes),  # what was applied, strokes still on top
                over,
                face_view_of(bench_app, state, params, boxed),
                (result.base, result.final),
                [(image, name) for name, image in result.intermediates().items()],
                staged_gallery(state),
                stats_json(state),
                plot_for(result.params, change),
                likeness.described,
                state,
            )

        stage2_ran = read_once(stage2.click, editor, painted_copy).then(
            run_stage2,
            [bench, params_json, painted_copy, *edits[1:], style],
            [
                final,
                final_file,
                editor,
                map_preview,
                face_view,
                slider,
                steps_view,
                staged,
                stats,
                plot,
                score,
                bench,
            ],
            api_name="stage2",
            **PAINT,
            show_progress_on=[final],  # never over the editor: its overlay could outlive the run
        )
        past.refresh_after(stage2_ran)  # the history shows the new run first

        def stop_runs(request: gr.Request) -> None:
            runs.stop(request)

        stop.click(
            stop_runs,
            None,
            None,
            api_name="stop",
            concurrency_id="stop",
            concurrency_limit=None,
            show_progress="hidden",
        )

        # Staging: compare the last results, accept one (final + its parameters) or drop it.
        def pick(event: gr.SelectData) -> int:
            return event.index

        staged.select(pick, None, picked, api_name=False, show_progress="hidden")

        @user_errors
        def accept_staged(state: Bench | None, index: int, request: gr.Request):
            result = chosen(state, index)
            likeness = bench_app.score_of(state, result)
            path = str(runs.final_png(request, result, likeness))
            return path, path, likeness.described, *shown(result.params)

        accept.click(
            accept_staged,
            [bench, picked],
            [final, final_file, score, params_json, *widgets],
            api_name="accept",
        )

        @user_errors
        def reject_staged(state: Bench | None, index: int):
            result = chosen(state, index)
            state.staged = [r for r in state.staged if r is not result]
            return staged_gallery(state), 0, state

        reject.click(reject_staged, [bench, picked], [staged, picked, bench], api_name="reject")

        # Sweeps: the cost is shown as the axes are typed; "cell k of n" while it runs.
        def sweep_cost(state: Bench | None, text: str, *named):
            try:
                params = parse_portrait_params(text)
                axes = axes_from(list(zip(named[::2], named[1::2], strict=True)))
                cells_ = expand(params, axes)
            except NarcisError as exc:
                return f"⚠️ {exc}"
            stage_one = touches_stage_one(axes)
            runs_1 = len({c.params.composition for c in cells_}) if stage_one else 0
            return (
                f"**{len(cells_)} cells**, stage 1 run {runs_1}× "
                f"({'a fresh base per stage-1 set' if stage_one else 'on the kept base'}): "
                f"**{unet_steps(cells_, stage_one)} UNet steps** in all"
            )

        for field in [params_json, *axis_fields]:
            field.change(
                sweep_cost,
                [bench, params_json, *axis_fields],
                cost,
                api_name=False,
                show_progress="hidden",
                trigger_mode="always_last",
            )

        @user_errors
        def sweep(
            state: Bench | None,
            text: str,
            x: str,
            xs: str,
            y: str,
            ys: str,
            z: str,
            zs: str,
            request: gr.Request,
            progress=gr.Progress(),
        ):
            state = state or Bench()
            axes = axes_from([(x, xs), (y, ys), (z, zs)])
            params = parse_portrait_params(text)
            kept = cell_keeper(history, request, state)  # each cell kept as it finishes
            needed = stage_costs(expand(params, axes), touches_stage_one(axes))
            with runs.run(request, progress, needed) as run:
                result = bench_app.sweep(
                    state, params, axes, run.on_step, run.on_cell, run.should_stop, kept
                )
            done = f"**{len(result.cells)} cells**: {result.unet_steps} UNet steps run"
            files = runs.sweep_files(request, result)
            return result.grids, result.cells, done, stats_json(state), files, state

        sweep_ran = run_sweep.click(
            sweep,
            [bench, params_json, *axis_fields],
            [grids, cells, cost, stats, sweep_files, bench],
            api_name="sweep",
            **PAINT,
            show_progress_on=[grids],
        )
        past.refresh_after(sweep_ran)  # the history shows the new run first

        @user_errors
        def reproduce(path: str | None):
            if not path:
                raise gr.Error("choose a JSON file or a PNG made by narcis")
            loaded = read_controls_file(Path(path))  # a sweep's also sets the axes
            axes = axis_controls(loaded.axes) if loaded.axes else [gr.skip()] * len(axis_fields)
            return *shown(loaded.params), *axes

        load.click(reproduce, source, [params_json, *widgets, *axis_fields], api_name="reproduce")

        @user_errors
        def save(name: str, text: str):
            bench_app.save_preset(name or "", parse_portrait_params(text))
            return gr.Dropdown(choices=bench_app.preset_names(), value=name)

        save_preset.click(save, [preset_name, params_json], preset_name, api_name="save_preset")

        @user_errors
        def load_named(name: str):
            return shown(bench_app.load_preset(name or ""))

        load_preset.click(load_named, preset_name, [params_json, *widgets], api_name="load_preset")
        demo.load(
            lambda: gr.Dropdown(choices=bench_app.preset_names()), None, preset_name, api_name=False
        )
        demo.load(  # the schedule is drawn from the start, not after the first change
            lambda *values: plot_for(params_of(list(values))), widgets, plot, api_name=False
        )
    return demo


def face_view_of(bench_app: Workbench, state: Bench, params: PortraitParams, boxed):
    """The base with its face box; the caption says when the face was placed, not found."""
    return gr.Image(value=boxed, label=bench_app.face_label(state, params))


def chosen(state: Bench | None, index: int):
    if state is None or not state.staged:
        raise gr.Error("no staged results yet: run stage 2 first")
    return state.staged[min(int(index or 0), len(state.staged) - 1)]


def staged_gallery(state: Bench) -> list:
    return [
        (r.final, f"#{n} · id seed {r.params.identity.seed}") for n, r in enumerate(state.staged, 1)
    ]


def plot_for(params: PortraitParams, change: np.ndarray | None = None):
    """The stage-2 schedule; with a change map, also how many pixels are free per step."""
    from core.diffusion.schedule import guided_step_count

    identity = params.identity
    return schedule_plot(
        identity.steps,
        change,
        guided=guided_step_count(identity.steps, identity.guidance_cutoff),
        merge_step=identity.start_merge_step,
        schedule=identity.schedule,
        scheduler=identity.scheduler,
    )


# The controls column scrolls on its own (a page's height less the margins), so the result
# column beside it keeps the final and its score on screen; narrow screens stack as usual.
LAYOUT_CSS = """
@media (min-width: 1024px) {
  #controls { max-height: calc(100vh - 32px); overflow-y: auto; position: sticky; top: 16px; }
}
#face-view img { cursor: crosshair; }
"""


def launch(
    settings: Settings,
    workbench: Workbench,
    host: str,
    port: int,
    block: bool = True,
    limits: LoginLimits | None = None,
) -> gr.Blocks:
    demo = build_ui(workbench, Runs(settings.data_dir / "workbench"))
    demo.queue(default_concurrency_limit=1)
    auth, middleware = None, []
    if settings.workbench_password is not None:
        auth = (settings.workbench_user, settings.workbench_password.get_secret_value())
        middleware = [Middleware(LoginGuard, limits=limits or LoginLimits())]
    demo.launch(
        css=LAYOUT_CSS,
        js=face_drag_js(),
        server_name=host,
        server_port=port,
        auth=auth,
        app_kwargs={"middleware": middleware},
        prevent_thread_lock=not block,
        show_error=True,
        quiet=True,
    )
    return demo


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    settings: Settings, host: str = "127.0.0.1", port: int = 7860, models: Path | None = None
) -> None:
    """Load the pipeline once and serve the page until stopped (what `narcis workbench` runs).
    Beyond loopback a password is required: anyone who reaches the page can use the GPU."""
    from core.diffusion.device import resolve_device, resolve_dtype
    from core.diffusion.portrait import PortraitPipeline
    from core.modelkit.layout import ModelLayout
    from core.store.migrate import require_current

    if settings.workbench_password is None and host not in LOOPBACK:
        raise ConfigError(
            "NARCIS_WORKBENCH_PASSWORD: required when the workbench listens "
            f"on {host} (anyone who reaches it can use the GPU)"
        )
    require_current(settings.database)  # the run history and presets live there
    device = resolve_device(settings.device)
    layout = ModelLayout(models if models is not None else settings.models_path)
    pipeline = PortraitPipeline.load(layout, device, resolve_dtype(settings.dtype, device))
    print(f"workbench on http://{host}:{port}", flush=True)
    launch(settings, Workbench(settings, pipeline), host, port)


if __name__ == "__main__":
    import sys

    from core.config import load_settings

    try:
        serve(load_settings())
    except NarcisError as exc:
        sys.exit(f"error: {exc}")
