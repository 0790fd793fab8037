"""`narcis worker`: the GPU worker that runs queued portrait jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings


def worker(
    models: Annotated[Path | None, typer.Option(help="models folder")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=8, help="jobs at once (1 per GPU)")] = 1,
) -> None:
    """Load the models once, then run portrait jobs from the queue until stopped."""
    from core.jobs.worker import run_worker

    config = settings()
    if models is not None:
        config = config.model_copy(update={"models_dir": models})
    run_worker(config, concurrency)
