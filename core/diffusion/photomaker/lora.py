"""The PhotoMaker LoRA: fused into the UNet for stage 2 only.

Stage 1 must be plain SDXL (a portrait's base equals `narcis compose` with the same
parameters), stage 2 needs the LoRA, and per-step LoRA work would cost every attention layer
two extra matmuls. So the layers the LoRA touches keep two weight tensors, plain and fused
(computed once by diffusers/PEFT at load), and switching stages swaps which one the layer
holds: no arithmetic, so switching back restores stage 1 bit for bit. It costs one extra copy
of the touched weights (the attention projections).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers import UNet2DConditionModel

ADAPTER = "photomaker"


class FusedLora:
    """Holds both weight sets of the LoRA's layers; `fused()` switches stage 2's on."""

    def __init__(self, unet: UNet2DConditionModel, lora: dict[str, torch.Tensor]) -> None:
        from peft.tuners.lora import LoraLayer

        unet.load_lora_adapter(lora, prefix="unet", adapter_name=ADAPTER)
        layers = [m.get_base_layer() for m in unet.modules() if isinstance(m, LoraLayer)]
        plain = [layer.weight.detach().clone() for layer in layers]
        unet.fuse_lora(adapter_names=[ADAPTER])
        unet.unload_lora()
        fused = [layer.weight.detach() for layer in layers]
        self._layers = list(zip(layers, plain, fused, strict=True))
        self._use(plain=True)

    @property
    def layer_count(self) -> int:
        return len(self._layers)

    @contextmanager
    def fused(self) -> Iterator[None]:
        self._use(plain=False)
        try:
            yield
        finally:
            self._use(plain=True)

    def _use(self, plain: bool) -> None:
        with torch.no_grad():
            for layer, plain_weight, fused_weight in self._layers:
                layer.weight.data = plain_weight if plain else fused_weight
