"""`narcis bench gpu`: seconds per 1024² portrait, ours against a reference implementation,
in one run on the same card.

- **reference**: the straightforward diffusers way: an SDXL pipeline with guidance on every
  step, its decoded picture cropped and encoded again, then stage 2 with guidance on every
  step and the PhotoMaker LoRA fused, as the official PhotoMaker pipeline does; no
  channels_last, no compile.
- **ours**: exactly what the worker runs (`PortraitPipeline.optimize`): guidance cut-off, no
  syncs in the loops, channels_last, and (unless `--no-compile`, as NARCIS_COMPILE=1 on the
  worker) the UNet compiled once for its fixed shapes.
With no weights in the models folder the full-size architectures are built at random
initialisation: the timing is the same. Warm-up runs are excluded; medians are reported.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from core.benchkit.work import original_settings, synthetic_reference
from core.diffusion.params import PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.diffusion.tiers import apply_tier
from core.modelkit.layout import ModelLayout


@dataclass
class GpuReport:
    device: str
    runs: int
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # impl → stage → s
    peak_memory_gb: dict[str, float] = field(default_factory=dict)


def run_gpu(
    device: str = "cuda",
    tiny: bool = False,
    runs: int = 3,
    compile_unet: bool = True,
    tiers: tuple[str, ...] = ("quality", "fast"),
    size: int = 1024,
) -> GpuReport:
    target = torch.device(device)
    dtype = _dtype(target)
    with tempfile.TemporaryDirectory() as folder:
        pipeline = _pipeline(Path(folder), target, dtype, tiny)
    name = torch.cuda.get_device_name(target) if target.type == "cuda" else "CPU"
    report = GpuReport(name, runs)
    reference = synthetic_reference(pipeline)
    side = 128 if tiny else size
    base = original_settings()
    base = base.model_copy(
        update={
            "composition": base.composition.model_copy(update={"width": side, "height": side}),
            "identity": base.identity.model_copy(update={"crop_size": side}),
        }
    )
    if tiny:
        base = _few_steps(base)
    report.seconds["reference"], report.peak_memory_gb["reference"] = _time(
        lambda: _reference_portrait(pipeline, base, reference), runs, target
    )
    pipeline.optimize(compile_unet and target.type == "cuda")
    for tier in tiers:
        params = apply_tier(base, tier, keep_size=True)
        if tiny:
            params = _few_steps(params)
        report.seconds[f"ours ({tier})"], report.peak_memory_gb[f"ours ({tier})"] = _time(
            lambda p=params: pipeline(p, [reference]).seconds, runs, target
        )
    return report


def _pipeline(folder: Path, device: torch.device, dtype: torch.dtype, tiny: bool):
    from core.modelkit.tiny import build_tiny

    if tiny:
        build_tiny(folder)
        return PortraitPipeline.load(ModelLayout(folder), device, dtype, optimize=False)
    from core.benchkit.full import build_full

    build_full(folder)
    return PortraitPipeline.load(ModelLayout(folder), device, dtype, optimize=False)


def _reference_portrait(pipeline: PortraitPipeline, params: PortraitParams, reference):
    """Guidance on every step of both stages; no channels_last, no compile."""
    naive = params.model_copy(
        update={
            "composition": params.composition.model_copy(update={"guidance_cutoff": 0.0}),
            "identity": params.identity.model_copy(update={"guidance_cutoff": 0.0}),
        }
    )
    return pipeline(naive, [reference]).seconds


def _time(work, runs: int, device: torch.device) -> tuple[dict[str, float], float]:
    work()  # warm-up (and compilation)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        started = time.perf_counter()
        seconds = dict(work())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds["total"] = time.perf_counter() - started
        samples.append(seconds)
    medians = {k: round(statistics.median(s[k] for s in samples), 3) for k in samples[0]}
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return medians, round(peak, 2)


def _few_steps(params: PortraitParams) -> PortraitParams:
    return params.model_copy(
        update={
            "composition": params.composition.model_copy(update={"steps": 3}),
            "identity": params.identity.model_copy(update={"steps": 3}),
        }
    )


def _dtype(device: torch.device) -> torch.dtype:
    from core.diffusion.device import resolve_dtype

    return resolve_dtype("auto", device)
