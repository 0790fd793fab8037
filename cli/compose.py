"""`narcis compose`: stage 1 alone, SDXL text-to-image, to a PNG that carries its parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.common import build, layout, settings
from cli.progress import step_bar

console = Console(stderr=True)


def compose(
    out: Annotated[Path, typer.Option(help="PNG to write")],
    prompt: Annotated[str | None, typer.Option(help="what to paint")] = None,
    negative: Annotated[str | None, typer.Option(help="what to avoid")] = None,
    width: Annotated[int | None, typer.Option(help="pixels, a multiple of 8")] = None,
    height: Annotated[int | None, typer.Option(help="pixels, a multiple of 8")] = None,
    steps: Annotated[int | None, typer.Option(help="denoising steps")] = None,
    guidance: Annotated[float | None, typer.Option(help="classifier-free guidance scale")] = None,
    cutoff: Annotated[
        float | None, typer.Option(help="fraction of final steps without guidance")
    ] = None,
    scheduler: Annotated[str | None, typer.Option(help="dpmpp_2m or euler")] = None,
    schedule: Annotated[
        str | None, typer.Option(help="noise levels: ays, ays-sigmas or default")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    params: Annotated[
        Path | None, typer.Option(help="reuse the parameters of a narcis PNG")
    ] = None,
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
) -> None:
    """Paint the composition (stage 1) from a prompt; --params reproduces an earlier PNG."""
    from core.diffusion.params import CompositionParams
    from core.diffusion.pngmeta import read_params, save_png

    given = dict(
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=guidance,
        guidance_cutoff=cutoff,
        scheduler=scheduler,
        schedule=schedule,
        seed=seed,
    )
    base = _composition_of(read_params(params)).model_dump() if params is not None else {}
    values = base | {k: v for k, v in given.items() if v is not None}
    if "prompt" not in values:
        raise typer.BadParameter(
            "give --prompt (or --params with a narcis PNG)", param_hint="--prompt"
        )
    request = build(CompositionParams, **values)

    stage = _stage(models)
    with step_bar(console) as on_step:
        result = stage(request, on_step=on_step)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    save_png(result.image, result.params, out)
    console.print(
        f"wrote {out} ({request.width}×{request.height}, seed {request.seed}, "
        f"{result.seconds:.1f} s)",
        highlight=False,
    )


def _stage(models: Path | None):
    from core.diffusion.components import load_sdxl
    from core.diffusion.composition import CompositionStage
    from core.diffusion.device import resolve_device, resolve_dtype

    config = settings()
    device = resolve_device(config.device)
    return CompositionStage(load_sdxl(layout(models), device, resolve_dtype(config.dtype, device)))


def _composition_of(found):
    """A composition PNG's parameters, or a portrait's stage 1 (its base reproduces)."""
    from core.diffusion.params import PortraitParams

    return found.composition if isinstance(found, PortraitParams) else found
