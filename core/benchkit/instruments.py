"""Counters wrapped around real parts during a benchmark: VAE calls, and GPU→CPU syncs
(`aten._local_scalar_dense`, what `.item()`, `bool(tensor)` and friends turn into)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode

SYNC_OPS = {"aten._local_scalar_dense.default", "aten.item.default", "aten.is_nonzero.default"}


class SyncCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if str(func) in SYNC_OPS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def count_vae(vae: torch.nn.Module) -> Iterator[Counter]:
    counts: Counter = Counter()
    originals = {name: getattr(vae, name) for name in ("encode", "decode")}

    def wrap(name: str):
        def counted(*args, **kwargs):
            counts[name] += 1
            return originals[name](*args, **kwargs)

        return counted

    for name in originals:
        setattr(vae, name, wrap(name))
    try:
        yield counts
    finally:
        for name in originals:
            delattr(vae, name)


@contextmanager
def count_loop_syncs() -> Iterator[SyncCounter]:
    """Counts syncs inside every DenoiseLoop.run (the denoising loops), nowhere else."""
    from core.diffusion.denoise import DenoiseLoop

    counter = SyncCounter()
    original = DenoiseLoop.run

    def run(self, *args, **kwargs):
        with counter:
            return original(self, *args, **kwargs)

    DenoiseLoop.run = run
    try:
        yield counter
    finally:
        DenoiseLoop.run = original
