"""`narcis portrait`: the whole two-stage portrait from face photos and an idea or a prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.common import build, layout, settings
from cli.progress import step_bar

console = Console(stderr=True)


def portrait(
    face: Annotated[list[Path], typer.Option(help="a photo of the face (repeat for up to 4)")],
    out: Annotated[Path, typer.Option(help="PNG to write")],
    idea: Annotated[str | None, typer.Option(help="a short idea, e.g. 'byzantine emperor'")] = None,
    prompt: Annotated[
        str | None, typer.Option(help="a full SDXL prompt instead of an idea")
    ] = None,
    style: Annotated[
        str, typer.Option(help="style preset for --idea (see narcis prompt)")
    ] = "none",
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    width: Annotated[int, typer.Option(help="stage-1 width")] = 1024,
    height: Annotated[int, typer.Option(help="stage-1 height")] = 1024,
    steps: Annotated[int, typer.Option(help="steps per stage")] = 20,
    schedule: Annotated[
        str, typer.Option(help="noise levels of both stages: ays, ays-sigmas or default")
    ] = "ays",
    crop_size: Annotated[int, typer.Option(help="stage-2 face crop size")] = 1024,
    face_id_weight: Annotated[int, typer.Option(help="repeats of each reference (1-4)")] = 1,
    base: Annotated[Path | None, typer.Option(help="skip stage 1: refine this picture")] = None,
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
    save_intermediates: Annotated[
        Path | None, typer.Option(help="folder for base, crop, map, refined crop")
    ] = None,
) -> None:
    """Paint a portrait of the person in --face photos from an --idea or a --prompt."""
    from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
    from core.diffusion.pngmeta import save_png
    from core.photos import read_photo

    if (idea is None) == (prompt is None):
        raise typer.BadParameter("give exactly one of --idea or --prompt", param_hint="--idea")
    if not 1 <= len(face) <= 4:
        raise typer.BadParameter(f"give 1 to 4 photos, not {len(face)}", param_hint="--face")
    photos = [(path.name, read_photo(path)) for path in face]
    base_image = read_photo(base) if base is not None else None
    negative = {}
    if idea is not None:
        written = _agent().run(idea, style=style, seed=seed)
        for warning in written.warnings:
            console.print(f"[yellow]note:[/yellow] {warning}", highlight=False)
        console.print(f"prompt: {written.prompt}", highlight=False)
        prompt, negative = written.prompt, {"negative_prompt": written.negative_prompt}
    params = build(
        PortraitParams,
        idea=idea,
        composition=build(
            CompositionParams,
            prompt=prompt,
            width=width,
            height=height,
            steps=steps,
            schedule=schedule,
            seed=seed,
            **negative,
        ),
        identity=build(
            IdentityParams,
            steps=steps,
            schedule=schedule,
            crop_size=crop_size,
            face_id_weight=face_id_weight,
            seed=seed,
        ),
        place_face=settings().place_face,
    )

    pipeline = _pipeline(models)
    meter = pipeline.likeness_meter(layout(models))
    references = pipeline.references(photos)
    with step_bar(console) as on_step:
        if base_image is None:
            result = pipeline(params, references, on_step=on_step)
        else:
            result = pipeline.refine(base_image, None, params, references, on_step=on_step)
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if save_intermediates is not None:
        for name, image in result.intermediates().items():
            save_png(image, result.params, save_intermediates / f"{name}.png")
    likeness = meter.measure(result.final, result.params, references)
    save_png(result.final, result.params, out, likeness.to_dict())
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    console.print(f"wrote {out} ({likeness.described}; {timings})", highlight=False)


def _agent():
    from core.prompt.agent import make_agent

    return make_agent(settings())


def _pipeline(models: Path | None):
    from core.diffusion.device import resolve_device, resolve_dtype
    from core.diffusion.portrait import PortraitPipeline

    config = settings()
    device = resolve_device(config.device)
    return PortraitPipeline.load(layout(models), device, resolve_dtype(config.dtype, device))
