"""A worker's models under overlapping threads: painting, likeness and face finding at once,
as they overlap when a halted painting's thread is still ending its step while the next job
measures and finds faces. First use from eight threads loads each model once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.threads import in_child, overlapped


def workload(models: Path) -> tuple[list, object, int]:
    """The worker's own WorkerState over the tiny models, its models first touched by eight
    threads at once (how many loads that made: 1); then its three overlapping steps."""
    from PIL import Image
    from skimage import data

    from core.config import load_settings
    from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
    from core.diffusion.references import find_face
    from core.jobs.worker import WorkerState

    settings = load_settings(models_dir=models, device="cpu", dtype="float32")
    state = WorkerState(settings, db=None, media=None, queue=None)  # only its models here
    loaded = overlapped([lambda: state.pipeline], lambda a, b: a is b, rounds=8)
    pipeline = state.pipeline
    astronaut = Image.fromarray(data.astronaut())
    references = pipeline.references([("astronaut", astronaut)])
    params = PortraitParams(
        idea="byzantine emperor",
        composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
        identity=IdentityParams(steps=3, crop_size=64, face_box=(0.2, 0.1, 0.8, 0.9)),
    )

    def same(a, b) -> bool:
        if hasattr(a, "final"):
            return np.array_equal(np.asarray(a.final), np.asarray(b.final))
        if hasattr(a, "face"):
            return a.face.box == b.face.box and np.array_equal(a.face.embedding, b.face.embedding)
        return a == b

    calls = [
        lambda: pipeline(params, references),
        lambda: state.likeness.measure(astronaut, params, references),
        lambda: find_face("photo 1", astronaut, pipeline.analyzer),
    ]
    return calls, same, loaded


def overlapping_jobs(models: str, rounds: str) -> None:
    """In the child: the three steps six at a time."""
    calls, same, loaded = workload(Path(models))
    print(loaded, overlapped(calls, same, rounds=int(rounds), threads=6))


@pytest.mark.timeout(240)
def test_painting_likeness_and_face_finding_overlap_safely(tiny_models: Path) -> None:
    output = in_child("tests.core.jobs.test_threads:overlapping_jobs", str(tiny_models), "4")
    assert output.split() == ["8", "12"]
