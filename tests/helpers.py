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

    def __call__(self, sample: torch.Tensor, *args, **kwargs):
        self.batches.append(sample.shape[0])
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


def run_narcis(*args: str, data: Path) -> subprocess.CompletedProcess[str]:
    """The real `narcis` command in a subprocess, offline, on the CPU, with its own data dir."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "NARCIS_DATA_DIR": str(data),
        "NARCIS_DEVICE": "cpu",
    }
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
