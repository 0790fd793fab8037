"""`narcis workbench`: the operators' Gradio app, running the pipeline in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import layout, settings


def workbench(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="port")] = 7860,
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
) -> None:
    """Tune masks, schedules and identity strength, and compare results."""
    from core.diffusion.device import resolve_device, resolve_dtype
    from core.diffusion.portrait import PortraitPipeline
    from core.errors import ConfigError
    from workbench.app import launch
    from workbench.engine import Workbench

    config = settings()
    if config.workbench_password is None and host not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigError(
            "NARCIS_WORKBENCH_PASSWORD: required when the workbench listens "
            f"on {host} (anyone who reaches it can use the GPU)"
        )
    device = resolve_device(config.device)
    pipeline = PortraitPipeline.load(layout(models), device, resolve_dtype(config.dtype, device))
    typer.echo(f"workbench on http://{host}:{port}")
    launch(config, Workbench(config, pipeline), host, port)
