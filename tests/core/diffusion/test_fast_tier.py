"""The fast tier's few-step LoRA: PEFT and kohya formats, switched on per portrait."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core.diffusion.portrait import FastTier
from core.errors import ModelError
from core.modelkit.tiny import _tiny_lora, kohya_lora


def _unet_output(unet, generator_seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(generator_seed)
    sample = torch.randn(1, unet.config.in_channels, 8, 8, generator=g)
    text = torch.randn(1, 77, unet.config.cross_attention_dim, generator=g)
    width = (
        unet.config.projection_class_embeddings_input_dim - 6 * unet.config.addition_time_embed_dim
    )
    pooled = torch.randn(1, width, generator=g)
    with torch.no_grad():
        return unet(
            sample,
            torch.tensor(500),
            encoder_hidden_states=text,
            added_cond_kwargs={"text_embeds": pooled, "time_ids": torch.ones(1, 6) * 64},
        ).sample


def test_a_kohya_lora_loads_and_acts_like_the_same_lora_in_peft_format(
    components, tmp_path: Path
) -> None:
    lora = _tiny_lora(components.unet, torch.Generator().manual_seed(5))
    peft_file, kohya_file = tmp_path / "peft.safetensors", tmp_path / "kohya.safetensors"
    save_file({k: v.contiguous() for k, v in lora.items()}, peft_file)
    save_file(kohya_lora(lora), kohya_file)
    outputs = {}
    for name, path in (("peft", peft_file), ("kohya", kohya_file)):
        unet = copy.deepcopy(components.unet)
        tier = FastTier.load(unet, path)
        off = _unet_output(unet)
        with tier.active(True):
            outputs[name] = _unet_output(unet)
        assert torch.equal(off, _unet_output(components.unet))  # off: the plain UNet
    assert not torch.allclose(outputs["kohya"], off)
    torch.testing.assert_close(outputs["kohya"], outputs["peft"])


def test_a_lora_with_nothing_for_the_unet_is_a_clear_error(components, tmp_path: Path) -> None:
    path = tmp_path / "text-only.safetensors"
    layer = "lora_te1_text_model_encoder_layers_0_mlp_fc1"
    save_file(
        {
            f"{layer}.lora_down.weight": torch.zeros(4, 32),
            f"{layer}.lora_up.weight": torch.zeros(37, 4),
            f"{layer}.alpha": torch.tensor(4.0),
        },
        path,
    )
    with pytest.raises(ModelError, match="no UNet LoRA weights"):
        FastTier.load(copy.deepcopy(components.unet), path)
