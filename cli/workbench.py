"""`narcis workbench`: the operators' Gradio app, running the pipeline in-process. The
launch itself lives in `workbench.app.serve`; this side only reads the options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings


def workbench(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 7860,
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
) -> None:
    """Tune masks, schedules and identity strength, and compare results."""
    from workbench.app import serve

    serve(settings(), host, port, models)
