"""`narcis models {tiny,check,download}`: the model folder."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.common import layout, settings

app = typer.Typer(help="Build, validate or download the model folder.", no_args_is_help=True)
console = Console(soft_wrap=True)

DirOption = Annotated[
    Path | None, typer.Option("--dir", help="models folder [default: NARCIS_MODELS_DIR]")
]


@app.command()
def tiny(
    dir: DirOption = None,
    seed: Annotated[int, typer.Option(min=0, help="random seed")] = 0,
    like_release: Annotated[
        bool, typer.Option(help="the exact layout `download` writes, with stand-in insightface")
    ] = False,
) -> None:
    """Write a tiny random-weight model set (offline, for tests and demos)."""
    from core.modelkit.tiny import build_tiny

    target = layout(dir)
    build_tiny(target.root, seed, like_release=like_release)
    console.print(f"tiny models written to {target.root}")


@app.command()
def check(dir: DirOption = None) -> None:
    """Check that every model file is present and shaped as its config says."""
    from core.modelkit.check import check_models, optional_status

    target = layout(dir)
    problems = check_models(target)
    for line in optional_status(target):
        console.print(f"  {line}", highlight=False)
    if problems:
        for problem in problems:
            console.print(f"[red]✗[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {target.root}: all models present and well-formed")


class Extra(StrEnum):
    taesdxl = "taesdxl"
    clip = "clip"


@app.command()
def download(
    dir: DirOption = None,
    with_: Annotated[
        list[Extra] | None,
        typer.Option(
            "--with",
            help="also an optional model: taesdxl (sharper previews), clip (prompt scores)",
        ),
    ] = None,
) -> None:
    """Fetch the real weights (SDXL, fp16-safe VAE, PhotoMaker V2, insightface). Resumable."""
    from core.modelkit.download import download_all

    config = settings()
    extras = tuple(dict.fromkeys(name.value for name in with_ or ()))
    download_all(layout(dir), config.hub_url, config.buffalo_url, extras, report=console.print)
