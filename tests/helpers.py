"""Small test doubles that wrap real parts (never replace them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).parents[1]


class UNetRecorder:
    """Wraps the real UNet and records what every call received."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.unet = unet
        self.batches: list[int] = []
        self.embeds: list[torch.Tensor] = []
        self.samples: list[torch.Tensor] = []
        self.timesteps: list[float] = []

    def __call__(self, sample: torch.Tensor, *args, **kwargs):
        self.batches.append(sample.shape[0])
        self.timesteps.append(float(args[0]))
        self.samples.append(sample.detach().clone())
        self.embeds.append(kwargs["encoder_hidden_states"].detach().clone())
        return self.unet(sample, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.unet, name)


def use_recorder(components) -> UNetRecorder:
    """Put a recorder around `components.unet`; undo with `components.unet = rec.unet`."""
    recorder = UNetRecorder(components.unet)
    components.unet = recorder
    return recorder


def run_narcis(*args: str, data: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """The real `narcis` command in a subprocess, offline, on the CPU, with its own data dir
    (and `settings` as more environment variables, e.g. NARCIS_PLACE_FACE="0")."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "NARCIS_DATA_DIR": str(data),
        "NARCIS_DEVICE": "cpu",
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


HEAVY = ("torch", "diffusers", "transformers", "sentence_transformers", "gradio")


def heavy_imports(*modules: str) -> str:
    """Which heavy libraries importing `modules` drags in, in a fresh interpreter."""
    probe = (
        f"import sys\nimport {', '.join(modules)}\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules) or 'none')"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        # This checkout's packages, not whichever one the virtualenv installed.
        env={
            "NARCIS_DATA_DIR": "/tmp/narcis-probe",
            "PATH": "/usr/bin",
            "PYTHONPATH": f"{ROOT}:{ROOT / 'site'}",
        },
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
