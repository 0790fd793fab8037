import hashlib
from pathlib import Path

import torch
from diffusers import UNet2DConditionModel
from transformers import CLIPTokenizer

from core.diffusion.photomaker import load_photomaker
from core.modelkit.check import check_models
from core.modelkit.layout import ModelLayout
from core.modelkit.tiny import build_tiny


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_layout_matches_the_design(tiny_models: Path) -> None:
    sdxl = tiny_models / "sdxl"
    assert (sdxl / "model_index.json").is_file()
    for folder in ("unet", "vae", "text_encoder", "text_encoder_2"):
        assert (sdxl / folder / "config.json").is_file()
    for folder in ("tokenizer", "tokenizer_2"):
        assert (sdxl / folder / "vocab.json").is_file() and (sdxl / folder / "merges.txt").is_file()
    assert (sdxl / "scheduler" / "scheduler_config.json").is_file()
    assert (tiny_models / "photomaker" / "photomaker-v2.bin").is_file()
    assert check_models(ModelLayout(tiny_models)) == []


def test_same_seed_same_bytes_other_seed_other_weights(tmp_path: Path, tiny_models: Path) -> None:
    build_tiny(tmp_path / "again", seed=0)
    build_tiny(tmp_path / "other", seed=1)
    assert _digest(tmp_path / "again") == _digest(tiny_models)
    other = _digest(tmp_path / "other")
    assert (
        other["sdxl/unet/diffusion_pytorch_model.safetensors"]
        != _digest(tiny_models)["sdxl/unet/diffusion_pytorch_model.safetensors"]
    )


def test_loads_through_from_pretrained(tiny_models: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(tiny_models / "sdxl", subfolder="unet")
    assert unet.config.addition_embed_type == "text_time"
    tokenizer = CLIPTokenizer.from_pretrained(tiny_models / "sdxl", subfolder="tokenizer_2")
    assert len(tokenizer) == 49408 and tokenizer.pad_token_id == 0
    assert tokenizer("a byzantine emperor").input_ids == [49406, 320, 44081, 13828, 49407]


def test_photomaker_file_is_v2_with_a_lora_for_this_unet(tiny_models: Path) -> None:
    weights = load_photomaker(tiny_models / "photomaker" / "photomaker-v2.bin")
    assert weights.version == 2
    unet = UNet2DConditionModel.from_pretrained(tiny_models / "sdxl", subfolder="unet")
    names = {name for name, _ in unet.named_modules()}
    targets = {k.removeprefix("unet.").rsplit(".lora_", 1)[0] for k in weights.lora}
    assert targets and targets <= names
    assert all(v.abs().sum() > 0 for v in weights.lora.values())
    assert isinstance(next(iter(weights.lora.values())), torch.Tensor)
