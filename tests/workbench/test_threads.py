"""Two operators at once on one workbench process: session A runs stage 2 while session B
previews its face and map and runs stage 1, as Gradio's thread pool runs two tabs' events.
Each result equals the same call made alone. On the old code the shared dlib analyser and the
stage-2 LoRA fused into the UNet that stage 1 was using made this crash or differ."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.threads import in_child, overlapped


def same_pixels(a, b) -> bool:
    images = (a.final, b.final) if hasattr(a, "final") else (a, b)
    flat = [im if isinstance(im, tuple) else (im,) for im in images]
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(*flat, strict=True))


def workload(models: Path, data: Path) -> tuple[list, object]:
    """The real Workbench over the tiny models; each call a fresh session's event."""
    import torch
    from PIL import Image
    from skimage import data as samples

    from core.config import load_settings
    from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
    from core.diffusion.portrait import PortraitPipeline
    from core.modelkit.layout import ModelLayout
    from workbench.engine import Bench, Workbench
    from workbench.maps import MapEdit

    torch.set_num_threads(1)
    pipeline = PortraitPipeline.load(ModelLayout(models), torch.device("cpu"), torch.float32)
    bench = Workbench(load_settings(data_dir=data), pipeline)
    astronaut = Image.fromarray(samples.astronaut())
    params = PortraitParams(
        idea="byzantine emperor",
        composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
        identity=IdentityParams(steps=3, crop_size=64),  # the face found, not typed: detection
    )
    references = pipeline.references([("astronaut", astronaut)])

    def session() -> Bench:  # a fresh session each call: nothing cached, every face detected
        return Bench(references=references, base=astronaut)

    calls = [
        lambda: bench.stage_two(session(), params),
        lambda: bench.preview(session(), params, MapEdit()),
        lambda: bench.stage_one(session(), params),
        lambda: bench.likeness_of(session(), astronaut, params),
    ]
    return calls, lambda a, b: a == b if isinstance(a, str) else same_pixels(a, b)


def two_sessions(models: str, data: str, rounds: str) -> None:
    """In the child: two sessions' events four at a time."""
    calls, same = workload(Path(models), Path(data))
    print(overlapped(calls, same, rounds=int(rounds), threads=4))


@pytest.mark.timeout(240)
def test_two_sessions_stage_two_and_preview_at_once(tiny_models: Path, tmp_path: Path) -> None:
    made = in_child(
        "tests.workbench.test_threads:two_sessions", str(tiny_models), str(tmp_path), "4"
    )
    assert made.strip() == "16"
