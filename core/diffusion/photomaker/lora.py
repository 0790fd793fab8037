"""The PhotoMaker LoRA: loaded as adapter "photomaker" and fused into the UNet once."""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel

ADAPTER = "photomaker"


def fuse_photomaker_lora(unet: UNet2DConditionModel, lora: dict[str, torch.Tensor]) -> None:
    """Merge the LoRA into the UNet's weights, then drop the adapter layers: afterwards the
    UNet costs exactly what it did before (no per-step LoRA work)."""
    if getattr(unet, "_narcis_fused", None) == ADAPTER:
        return
    unet.load_lora_adapter(lora, prefix="unet", adapter_name=ADAPTER)
    unet.fuse_lora(adapter_names=[ADAPTER])
    unet.unload_lora()
    unet._narcis_fused = ADAPTER
