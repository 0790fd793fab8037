"""`narcis bench {work,overhead,gpu}`: numbers about speed, printed as a table and saved as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.common import settings

app = typer.Typer(
    help="Measure the work, the overhead and the GPU time of a portrait.", no_args_is_help=True
)
console = Console()

JsonOption = Annotated[Path | None, typer.Option("--json", help="where to write the numbers")]


@app.command()
def work(
    tier: Annotated[str, typer.Option(help="quality, fast or preview")] = "quality",
    json_path: JsonOption = None,
) -> None:
    """Exact counts per portrait on tiny models (original settings), TFLOPs at full size."""
    from core.benchkit.work import run_work

    report = run_work(tier)
    table = Table("what", "per portrait", "target", title=f"work per portrait ({tier} tier)")
    for stage, calls in report.unet_calls.items():
        need = f"{report.steps[stage]} calls"
        table.add_row(
            f"UNet calls, {stage}",
            f"{calls['batch 2']} at batch 2 + {calls['batch 1']} at batch 1",
            need,
        )
    table.add_row(
        "VAE decodes / encodes",
        f"{report.vae.get('decode', 0)} / {report.vae.get('encode', 0)}",
        "2 / 1",
    )
    table.add_row("syncs per step in the loops", f"{report.syncs_per_step:g}", "0")
    table.add_row("torch.compile graph breaks (UNet)", str(report.graph_breaks), "0")
    p = report.previews
    table.add_row(
        f"previews ({p['kind']}), ms per previewed step",
        f"{p['ms per previewed step']:g} ({p['previewed steps']} steps)",
        "",
    )
    table.add_row("syncs per non-preview step", f"{p['syncs per other step']:g}", "0")
    for name, value in report.tflops.items():
        table.add_row(f"TFLOP at 1024², {name}", f"{value:g}", "")
    console.print(table)
    _save(report, json_path, "work")


@app.command()
def overhead(steps: int = 20, json_path: JsonOption = None) -> None:
    """Host-side milliseconds per step with a no-op denoiser (full latent size)."""
    from core.benchkit.overhead import per_step_ms

    rows = {
        "stage 1 loop": per_step_ms(steps),
        "stage 2 loop (re-insertion)": per_step_ms(steps, differential=True),
    }
    table = Table("loop", "ms per step", title="host overhead per step")
    for name, value in rows.items():
        table.add_row(name, f"{value:.3f}")
    console.print(table)
    _save({k: round(v, 4) for k, v in rows.items()}, json_path, "overhead")


@app.command()
def gpu(
    device: Annotated[str, typer.Option(help="cuda, cuda:N (cpu only with --tiny)")] = "cuda",
    runs: Annotated[int, typer.Option(min=1, max=20)] = 3,
    tiny: Annotated[bool, typer.Option(help="tiny models: a smoke test of the harness")] = False,
    compile_unet: Annotated[bool, typer.Option("--compile/--no-compile")] = True,
    json_path: JsonOption = None,
) -> None:
    """Seconds per 1024² portrait, reference against ours, on this card."""
    import torch

    from core.benchkit.gpu import run_gpu
    from core.errors import ConfigError

    if not tiny and (not device.startswith("cuda") or not torch.cuda.is_available()):
        raise ConfigError("bench gpu needs a CUDA GPU (or --tiny for a smoke test on the CPU)")
    report = run_gpu(device, tiny=tiny, runs=runs, compile_unet=compile_unet)
    table = Table(
        "implementation",
        "stage 1 s",
        "stage 2 s",
        "total s",
        "peak GiB",
        title=f"seconds per portrait on {report.device} (median of {runs})",
    )
    for name, seconds in report.seconds.items():
        table.add_row(
            name,
            f"{seconds.get('composition', 0):.3f}",
            f"{seconds.get('identity', 0):.3f}",
            f"{seconds['total']:.3f}",
            f"{report.peak_memory_gb[name]:.2f}",
        )
    console.print(table)
    reference = report.seconds["reference"]["total"]
    for name, seconds in report.seconds.items():
        if name != "reference":
            console.print(f"{name}: {reference / seconds['total']:.2f}× the reference's speed")
    _save(report, json_path, "gpu")


def _save(report, path: Path | None, mode: str) -> None:
    target = path or settings().data_dir / "bench" / f"{mode}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(report) if is_dataclass(report) else report
    target.write_text(json.dumps(data, indent=2) + "\n")
    console.print(f"numbers saved to {target}")
