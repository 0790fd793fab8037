"""`build_ui(workbench) -> gr.Blocks`: lays out the page and wires events, nothing more.

Every event turns widget values into one typed `PortraitParams` (shown as JSON, editable, and
the only thing the run buttons read), calls a plain function of `engine.py`, and maps user
mistakes to `gr.Error`. GPU work shares one concurrency lane.
"""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from core.config import Settings
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import save_png
from core.errors import NarcisError
from core.prompt.styles import STYLES
from workbench.engine import Bench, Workbench, parse_portrait_params, stats_json
from workbench.live import live
from workbench.maps import overlay, paint_layer
from workbench.plots import schedule_plot
from workbench.sweep import SWEEPABLE, parse_values

GPU = "gpu"  # one lane: one GPU job at a time, whoever asks


def user_errors(fn: Callable) -> Callable:
    """Our errors become Gradio error toasts with the message; nothing else is swallowed."""
    if inspect.isgeneratorfunction(fn):  # event functions that stream live previews

        @functools.wraps(fn)
        def streamed(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except NarcisError as exc:
                raise gr.Error(str(exc)) from None

        return streamed

    @functools.wraps(fn)  # keeps the signature: Gradio names API parameters after it
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except NarcisError as exc:
            raise gr.Error(str(exc)) from None

    return wrapped


def progress_hook(progress: gr.Progress):
    return lambda event: progress((event.step, event.total), desc=event.stage)


def build_ui(bench_app: Workbench) -> gr.Blocks:
    with gr.Blocks(title="narcis workbench") as demo:
        bench = gr.State(None)  # a Bench per visitor, made on first use
        gr.Markdown("## narcis workbench")
        with gr.Row():
            with gr.Column(scale=1):
                files = gr.File(
                    label="Reference photos (1–4)",
                    file_count="multiple",
                    file_types=["image"],
                    type="filepath",
                )
                analyse = gr.Button("Find faces")
                faces = gr.Gallery(label="Detected faces and landmarks", columns=4, height=180)
                with gr.Group():
                    idea = gr.Textbox(label="Idea", placeholder="byzantine emperor")
                    style = gr.Dropdown(list(STYLES), value="none", label="Style")
                    write = gr.Button("Write prompt")
                    concept = gr.Textbox(label="Concept", interactive=False, lines=3)
                    keywords = gr.Markdown()
                controls = parameter_controls()
                plot = gr.Image(label="Schedule", interactive=False, height=220)
            with gr.Column(scale=1):
                params_json = gr.Code(
                    label="Parameters (JSON, editable)",
                    language="json",
                    value=PortraitParams(
                        composition=CompositionParams(prompt="portrait")
                    ).model_dump_json(indent=2),
                )
                with gr.Row():
                    stage1 = gr.Button("Run stage 1", variant="primary")
                    stage2 = gr.Button("Run stage 2", variant="primary")
                base = gr.Image(
                    label="Base picture (stage 1, or upload one)", type="pil", format="png"
                )
                final = gr.Image(label="Final", type="pil", format="png", interactive=False)
                editor = gr.ImageEditor(
                    label="Paint over the change map (white = change, "
                    "black = keep; opacity = strength)",
                    type="pil",
                    image_mode="RGBA",
                    height=320,
                    brush=gr.Brush(colors=["#ffffff", "#000000"], color_mode="defaults"),
                )
                paint = gr.Image(visible=False, type="pil", image_mode="RGBA")
                slider = gr.ImageSlider(label="Before / after", type="pil", format="png")
                steps_view = gr.Gallery(
                    label="Base · crop · map · refined · final", columns=5, format="png"
                )
                final_file = gr.File(label="Final PNG (parameters inside)")
                stats = gr.Code(label="Counters", language="json")
                with gr.Accordion("Sweep", open=False):
                    x_name = gr.Dropdown(
                        list(SWEEPABLE), value="identity.guidance_scale", label="X parameter"
                    )
                    x_values = gr.Textbox(label="X values", value="2, 5")
                    y_name = gr.Dropdown(
                        ["(none)", *SWEEPABLE], value="(none)", label="Y parameter"
                    )
                    y_values = gr.Textbox(label="Y values", value="")
                    run_sweep = gr.Button("Run sweep")
                    sheet = gr.Image(label="Grid", type="pil", format="png")
                    cells = gr.Gallery(label="Cells", columns=4, format="png")
                with gr.Accordion("Reproduce and presets", open=False):
                    source = gr.File(
                        label="Load parameters from a JSON file or a narcis PNG", type="filepath"
                    )
                    load = gr.Button("Load parameters")
                    preset_name = gr.Dropdown(label="Preset", allow_custom_value=True, choices=[])
                    with gr.Row():
                        save_preset = gr.Button("Save preset")
                        load_preset = gr.Button("Load preset")

        control_list = list(controls.values())

        # Widgets → one typed request, shown as JSON.
        def to_json(values: dict) -> tuple[str, Any]:
            params = controls_to_params({name: values[c] for name, c in controls.items()})
            return params.model_dump_json(indent=2), plot_for(params)

        for control in control_list:
            control.change(
                to_json,
                inputs=set(control_list),
                outputs=[params_json, plot],
                api_name=False,
                show_progress="hidden",
            )

        @user_errors
        def find_faces(state: Bench | None, paths: list[str] | None):
            state = state or Bench()
            return bench_app.add_references(state, paths or []), state

        analyse.click(
            find_faces, [bench, files], [faces, bench], api_name="references", concurrency_id=GPU
        )

        @user_errors
        def write_prompt(idea_text: str, style_name: str, seed: float):
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
        )

        @user_errors
        def run_stage1(state: Bench | None, text: str, progress=gr.Progress()):
            state = state or Bench()
            params = parse_portrait_params(text)
            image = yield from live(  # the base, forming in place
                lambda on_step: bench_app.stage_one(state, params, on_step),
                progress_hook(progress),
                bench_app.previewer,
                lambda preview: (preview, gr.skip(), gr.skip()),
            )
            yield image, stats_json(state), state

        stage1.click(
            run_stage1,
            [bench, params_json],
            [base, stats, bench],
            api_name="stage1",
            concurrency_id=GPU,
        )

        def set_base(state: Bench | None, image):
            state = state or Bench()
            state.base = None if image is None else image.convert("RGB")
            return stats_json(state), state

        base.upload(set_base, [bench, base], [stats, bench], api_name="set_base")

        @user_errors
        def run_stage2(state: Bench | None, text: str, painted, progress=gr.Progress()):
            state = state or Bench()
            params = parse_portrait_params(text)
            result = yield from live(  # the face crop, forming where the final will be
                lambda on_step: bench_app.stage_two(state, params, painted, on_step),
                progress_hook(progress),
                bench_app.previewer,
                lambda preview: (preview, *[gr.skip()] * 8),
            )
            path = Path(tempfile.mkdtemp()) / "narcis-final.png"
            save_png(result.final, result.params, path)
            change = np.asarray(result.change_map.convert("L"), dtype=np.float32) / 255.0
            shown = overlay(result.crop, change)
            gallery = [(image, name) for name, image in result.intermediates().items()]
            yield (
                result.final,
                shown,
                (result.base, result.final),
                gallery,
                str(path),
                stats_json(state),
                result.params.model_dump_json(indent=2),
                plot_for(result.params, change),
                state,
            )

        stage2.click(
            run_stage2,
            [bench, params_json, paint],
            [final, editor, slider, steps_view, final_file, stats, params_json, plot, bench],
            api_name="stage2",
            concurrency_id=GPU,
        )
        editor.change(
            lambda value: paint_layer(value), editor, paint, api_name=False, show_progress="hidden"
        )

        @user_errors
        def sweep(
            state: Bench | None, text: str, x: str, xs: str, y: str, ys: str, progress=gr.Progress()
        ):
            state = state or Bench()
            axes = [(x, parse_values(xs))]
            if y and y != "(none)":
                axes.append((y, parse_values(ys)))
            image, labelled = bench_app.sweep(
                state, parse_portrait_params(text), axes, progress_hook(progress)
            )
            return image, labelled, state

        run_sweep.click(
            sweep,
            [bench, params_json, x_name, x_values, y_name, y_values],
            [sheet, cells, bench],
            api_name="sweep",
            concurrency_id=GPU,
        )

        @user_errors
        def reproduce(path: str | None):
            if not path:
                raise gr.Error("choose a JSON file or a PNG made by narcis")
            params = bench_app.params_from_file(path)
            return (
                params.model_dump_json(indent=2),
                *params_to_controls(params, controls).values(),
            )

        load.click(reproduce, source, [params_json, *control_list], api_name="reproduce")

        @user_errors
        def save(name: str, text: str):
            bench_app.save_preset(name or "", parse_portrait_params(text))
            return gr.Dropdown(choices=bench_app.preset_names(), value=name)

        save_preset.click(save, [preset_name, params_json], preset_name, api_name="save_preset")

        @user_errors
        def load_named(name: str):
            params = bench_app.load_preset(name or "")
            return (
                params.model_dump_json(indent=2),
                *params_to_controls(params, controls).values(),
            )

        load_preset.click(
            load_named, preset_name, [params_json, *control_list], api_name="load_preset"
        )
        demo.load(
            lambda: gr.Dropdown(choices=bench_app.preset_names()), None, preset_name, api_name=False
        )
    return demo


def parameter_controls() -> dict[str, gr.components.Component]:
    """One widget per parameter, named by its path in `PortraitParams`."""
    c, i = CompositionParams(prompt="portrait"), IdentityParams()
    widgets: dict[str, gr.components.Component] = {}
    with gr.Accordion("Prompt and stage 1", open=True):
        widgets["composition.prompt"] = gr.Textbox(label="Prompt", value=c.prompt, lines=3)
        widgets["composition.negative_prompt"] = gr.Textbox(
            label="Negative prompt", value=c.negative_prompt, lines=2
        )
        with gr.Row():
            widgets["composition.width"] = gr.Number(label="Width", value=c.width, precision=0)
            widgets["composition.height"] = gr.Number(label="Height", value=c.height, precision=0)
            widgets["composition.seed"] = gr.Number(label="Seed", value=c.seed, precision=0)
        widgets["composition.steps"] = gr.Slider(1, 100, c.steps, step=1, label="Steps")
        widgets["composition.guidance_scale"] = gr.Slider(
            0, 30, c.guidance_scale, step=0.5, label="Guidance"
        )
        widgets["composition.guidance_cutoff"] = gr.Slider(
            0, 1, c.guidance_cutoff, step=0.05, label="No guidance for the last …"
        )
        widgets["composition.schedule"] = schedule_control(c.schedule)
    with gr.Accordion("Stage 2: identity", open=True):
        widgets["identity.steps"] = gr.Slider(1, 100, i.steps, step=1, label="Steps")
        widgets["identity.guidance_scale"] = gr.Slider(
            0, 30, i.guidance_scale, step=0.5, label="Guidance"
        )
        widgets["identity.guidance_cutoff"] = gr.Slider(
            0, 1, i.guidance_cutoff, step=0.05, label="No guidance for the last …"
        )
        widgets["identity.schedule"] = schedule_control(i.schedule)
        widgets["identity.style_strength"] = gr.Slider(
            0, 100, i.style_strength, step=1, label="Style strength (identity starts at)"
        )
        widgets["identity.face_id_weight"] = gr.Slider(
            1, 4, i.face_id_weight, step=1, label="Identity weight (reference repeats)"
        )
        widgets["identity.crop_size"] = gr.Dropdown(
            [64, 128, 256, 512, 768, 1024], value=i.crop_size, label="Crop size"
        )
        widgets["identity.crop_margin"] = gr.Slider(
            0, 2, i.crop_margin, step=0.05, label="Crop margin (face widths)"
        )
        widgets["identity.mask_core"] = gr.Slider(
            0.3, 2, i.mask_core, step=0.05, label="Map: core size"
        )
        widgets["identity.mask_dilation"] = gr.Slider(
            0, 1, i.mask_dilation, step=0.05, label="Map: dilation"
        )
        widgets["identity.mask_feather"] = gr.Slider(
            0, 1, i.mask_feather, step=0.05, label="Map: feather"
        )
        widgets["identity.seed"] = gr.Number(label="Seed", value=i.seed, precision=0)
        widgets["identity.face_box"] = gr.Textbox(
            label="Face box by hand (x0, y0, x1, y1 as fractions; empty = detect)", value=""
        )
    return widgets


def controls_to_params(values: dict[str, Any]) -> PortraitParams:
    data: dict[str, dict[str, Any]] = {"composition": {}, "identity": {}}
    for name, value in values.items():
        section, field = name.split(".")
        if field == "face_box":
            value = [float(v) for v in str(value).split(",")] if str(value).strip() else None
        data[section][field] = value
    try:
        return PortraitParams.model_validate(data)
    except Exception as exc:
        raise gr.Error(f"invalid parameters: {exc}") from None


def params_to_controls(params: PortraitParams, controls: dict) -> dict[str, Any]:
    data = params.model_dump()
    out = {}
    for name in controls:
        section, field = name.split(".")
        value = data[section][field]
        out[name] = (
            ", ".join(f"{v:g}" for v in value)
            if field == "face_box" and value
            else ("" if field == "face_box" else value)
        )
    return out


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


def schedule_control(value: str) -> gr.Dropdown:
    from core.diffusion.schedule import SCHEDULES

    return gr.Dropdown(list(SCHEDULES), value=value, label="Schedule (timesteps)")


def launch(
    settings: Settings, workbench: Workbench, host: str, port: int, block: bool = True
) -> gr.Blocks:
    demo = build_ui(workbench)
    demo.queue(default_concurrency_limit=1)
    auth = None
    if settings.workbench_password is not None:
        auth = (settings.workbench_user, settings.workbench_password.get_secret_value())
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=True,
    )
    return demo


if __name__ == "__main__":
    from cli.workbench import workbench

    workbench()
