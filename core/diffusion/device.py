"""Choosing the device and the compute dtype from settings and the hardware present."""

from __future__ import annotations

import torch

from core.errors import ConfigError

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """`auto` → the first CUDA GPU if any, else CPU; anything else must exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"NARCIS_DEVICE: {name!r} requested but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"NARCIS_DEVICE: {name!r} requested but MPS is not available")
    return device


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """`auto` → fp32 on CPU; bf16 on GPUs that support it; fp16 on older ones (T4-class)."""
    if name != "auto":
        dtype = _DTYPES[name]
        if dtype == torch.bfloat16 and device.type == "cuda" and not _bf16_ok(device):
            raise ConfigError(f"NARCIS_DTYPE: bfloat16 is not supported on {_gpu_name(device)}")
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if _bf16_ok(device) else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def vae_dtype(dtype: torch.dtype, force_upcast: bool) -> torch.dtype:
    """SDXL's original VAE overflows in fp16 (`force_upcast` in its config): run it in fp32.
    An fp16-safe VAE (the fp16-fix weights, `force_upcast: false`) keeps the compute dtype."""
    return torch.float32 if dtype == torch.float16 and force_upcast else dtype


def _bf16_ok(device: torch.device) -> bool:
    return torch.cuda.get_device_capability(device)[0] >= 8  # Ampere and newer


def _gpu_name(device: torch.device) -> str:
    return torch.cuda.get_device_name(device)
