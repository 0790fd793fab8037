"""One widget per parameter of `PortraitParams`, named by its path, and the two conversions
between widget values and parameters. Every field has a widget, so loading parameters and
reading them back changes nothing (tests/workbench/test_roundtrip.py checks it)."""

from __future__ import annotations

from typing import Any, get_args

import gradio as gr
from pydantic import ValidationError

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams, SchedulerName
from core.errors import UserInputError
from workbench.face_drag import FACE_BOX_ID

SCHEDULERS = list(get_args(SchedulerName))
CROP_SIZES = list(range(64, 2049, 64))
OPTIONAL_TEXT = {"idea", "identity.prompt", "identity.class_word"}  # empty = None
SEEDS = {"composition.seed", "identity.seed"}  # text: a number box would lose digits past 2^53
INTEGERS = {
    "composition.width",
    "composition.height",
    "composition.steps",
    "identity.steps",
    "identity.face_id_weight",
    "identity.crop_size",
    "face_retries",
}
Controls = dict[str, gr.components.Component]


def parameter_controls(idea: gr.Textbox) -> Controls:
    """The widgets, laid out in accordions; `idea` is the prompt section's own box."""
    p = PortraitParams(composition=CompositionParams(prompt="portrait"))
    c, i = p.composition, p.identity
    w: Controls = {"idea": idea}
    with gr.Accordion("Prompt and stage 1", open=True):
        w["composition.prompt"] = gr.Textbox(label="Prompt", value=c.prompt, lines=3)
        with gr.Row():
            w["composition.width"] = gr.Number(label="Width", value=c.width, precision=0)
            w["composition.height"] = gr.Number(label="Height", value=c.height, precision=0)
            w["composition.seed"] = gr.Textbox(label="Seed", value=str(c.seed))
        w["composition.schedule"] = schedule_control(c.schedule)
        w["composition.steps"] = gr.Slider(1, 150, c.steps, step=1, label="Steps")
        w["composition.guidance_scale"] = gr.Slider(
            0, 30, c.guidance_scale, step=0.01, label="Guidance"
        )
        with gr.Accordion("Stage 1, advanced", open=False):  # set once, rarely tuned
            w["composition.negative_prompt"] = gr.Textbox(
                label="Negative prompt", value=c.negative_prompt, lines=2
            )
            with gr.Row():
                w["composition.scheduler"] = gr.Dropdown(
                    SCHEDULERS, value=c.scheduler, label="Sampler"
                )
                w["tier"] = gr.Dropdown(["quality", "fast", "preview"], value=p.tier, label="Tier")
                w["face_retries"] = gr.Slider(0, 10, p.face_retries, step=1, label="Face retries")
            w["composition.guidance_cutoff"] = gr.Slider(
                0, 1, c.guidance_cutoff, step=0.01, label="No guidance for the last …"
            )
    with gr.Accordion("Stage 2: identity", open=True):
        w["identity.seed"] = gr.Textbox(label="Seed", value=str(i.seed))
        w["identity.schedule"] = schedule_control(i.schedule)
        w["identity.steps"] = gr.Slider(1, 150, i.steps, step=1, label="Steps")
        w["identity.guidance_scale"] = gr.Slider(
            0, 30, i.guidance_scale, step=0.01, label="Guidance"
        )
        w["identity.style_strength"] = gr.Slider(
            0, 100, i.style_strength, step=0.01, label="Style strength (identity starts at)"
        )
        w["identity.crop_size"] = gr.Dropdown(CROP_SIZES, value=i.crop_size, label="Crop size")
        w["identity.mask_core"] = gr.Slider(0.3, 2, i.mask_core, step=0.01, label="Map: core")
        w["identity.mask_dilation"] = gr.Slider(
            0, 1, i.mask_dilation, step=0.01, label="Map: dilation"
        )
        w["identity.mask_feather"] = gr.Slider(
            0, 1, i.mask_feather, step=0.01, label="Map: feather"
        )
        w["identity.face_box"] = gr.Textbox(
            label="Face box by hand: drag it on the face view, or type x0, y0, x1, y1 "
            "as fractions of the picture (empty = detect)",
            elem_id=FACE_BOX_ID,
        )
        with gr.Accordion("Stage 2, advanced", open=False):
            w["identity.prompt"] = gr.Textbox(label="Identity prompt (empty = the stage-1 prompt)")
            with gr.Row():
                w["identity.scheduler"] = gr.Dropdown(
                    SCHEDULERS, value=i.scheduler, label="Sampler"
                )
                w["identity.class_word"] = gr.Textbox(label="Class word (empty = from the face)")
            w["identity.guidance_cutoff"] = gr.Slider(
                0, 1, i.guidance_cutoff, step=0.01, label="No guidance for the last …"
            )
            w["identity.face_id_weight"] = gr.Slider(
                1, 4, i.face_id_weight, step=1, label="Identity weight (reference repeats)"
            )
            w["identity.crop_margin"] = gr.Slider(
                0, 2, i.crop_margin, step=0.01, label="Crop margin (face widths)"
            )
    for name, widget in w.items():  # an id per control, e.g. #control-identity-steps
        widget.elem_id = widget.elem_id or "control-" + name.replace(".", "-")
    return w


MAP_CONTROLS = (  # the ones that change the change map: the preview follows them live
    "identity.crop_size",
    "identity.crop_margin",
    "identity.mask_core",
    "identity.mask_dilation",
    "identity.mask_feather",
    "identity.face_box",
)


def controls_to_params(values: dict[str, Any]) -> PortraitParams:
    """Widget values (by parameter path) → parameters; a bad value is named in the error."""
    data: dict[str, Any] = {"composition": {}, "identity": {}}
    for name, value in values.items():
        *section, field = name.split(".")
        target = data[section[0]] if section else data
        target[field] = from_widget(name, value)
    try:
        return PortraitParams.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"]))
        raise UserInputError(f"{where} = {error.get('input')!r}: {error['msg'].lower()}") from None


def from_widget(name: str, value: Any) -> Any:
    if name == "identity.face_box":
        text = str(value or "").strip()
        if not text:
            return None
        try:
            return tuple(float(v) for v in text.split(","))
        except ValueError:
            raise UserInputError(
                f"face box {text!r}: write four fractions, e.g. 0.3, 0.2, 0.7, 0.6"
            ) from None
    if name in OPTIONAL_TEXT:
        return value or None
    if name in SEEDS:
        text = str(value).strip()
        if not text.isdigit():
            raise UserInputError(f"{name} = {text!r}: a seed is a whole number ≥ 0")
        return int(text)
    if name in INTEGERS and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def params_to_controls(params: PortraitParams) -> dict[str, Any]:
    """Parameters → one value per widget path, exactly what `controls_to_params` reads."""
    data = params.model_dump()
    out: dict[str, Any] = {}
    for name in WIDGET_PATHS:
        *section, field = name.split(".")
        value = data[section[0]][field] if section else data[field]
        if name == "identity.face_box":
            value = "" if value is None else ", ".join(repr(float(v)) for v in value)
        elif name in OPTIONAL_TEXT:
            value = value or ""
        elif name in SEEDS:
            value = str(value)
        out[name] = value
    return out


WIDGET_PATHS = (
    "idea",
    "tier",
    "face_retries",
    *(f"composition.{f}" for f in CompositionParams.model_fields if f not in ("kind", "version")),
    *(f"identity.{f}" for f in IdentityParams.model_fields),
)


def schedule_control(value: str) -> gr.Dropdown:
    from core.diffusion.schedule import SCHEDULES

    return gr.Dropdown(list(SCHEDULES), value=value, label="Schedule (timesteps)")
