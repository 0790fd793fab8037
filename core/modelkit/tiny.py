"""`narcis models tiny`: a random-weight model set in the real layout, built offline.

Same architectures as SDXL + PhotoMaker V2 at toy widths, so every loader, shape check and
pipeline step runs for real in seconds on a CPU. Deterministic for a seed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)
from transformers.utils import logging as hf_logging

from core.diffusion.photomaker.checkpoint import save_photomaker
from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder
from core.modelkit.layout import SDXL_COMPONENTS, ModelLayout
from core.modelkit.tokenizer import VOCAB_SIZE, clip_vocab_and_merges

TEXT_WIDTH = 32  # both text encoders; the UNet's cross-attention width is their sum
LORA_RANK = 4
LORA_TARGETS = (
    "attn1.to_q",
    "attn1.to_k",
    "attn1.to_v",
    "attn1.to_out.0",
    "attn2.to_q",
    "attn2.to_k",
    "attn2.to_v",
    "attn2.to_out.0",
)

UNET = dict(
    sample_size=8,
    block_out_channels=(32, 64),
    layers_per_block=2,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=(2, 4),
    cross_attention_dim=TEXT_WIDTH * 2,
    transformer_layers_per_block=(1, 2),
    addition_embed_type="text_time",
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=6 * 8 + TEXT_WIDTH,
    use_linear_projection=True,
    norm_num_groups=32,
)
VAE = dict(
    block_out_channels=(8, 16, 16, 16),  # 4 levels: latents are 1/8 of the image, as in SDXL
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    latent_channels=4,
    layers_per_block=1,
    norm_num_groups=8,
    sample_size=64,
    scaling_factor=0.13025,
    force_upcast=False,
)
SCHEDULER = dict(  # SDXL base's scheduler configuration
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    num_train_timesteps=1000,
    prediction_type="epsilon",
    steps_offset=1,
    timestep_spacing="leading",
    interpolation_type="linear",
    use_karras_sigmas=False,
)
ID_ENCODER = IdEncoderConfig(
    version=2,
    vision_hidden=32,
    vision_layers=2,
    vision_head_dim=16,
    vision_intermediate=37,
    image_size=28,
    patch_size=14,
    text_dim_1=TEXT_WIDTH,
    text_dim_2=TEXT_WIDTH,
    id_embed_dim=128,
    perceiver_layers=2,
    perceiver_head_dim=16,
    ff_mult=2,
)


def text_config(with_projection: bool) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=TEXT_WIDTH,
        intermediate_size=37,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=TEXT_WIDTH,
        hidden_act="gelu" if with_projection else "quick_gelu",
        pad_token_id=1,
        bos_token_id=49406,
        eos_token_id=49407,
    )


def build_tiny(root: Path, seed: int = 0, like_release: bool = False) -> ModelLayout:
    """Write the tiny set under `root` and return its layout.

    `like_release` shapes the folder exactly as `narcis models download` leaves it: fp16
    variant file names (in fp16), the fp16-fix VAE's plain file, tokenizers without
    tokenizer.json, a V2 encoder fed by 512-d ArcFace embeddings, stand-in buffalo_l models,
    and no fast-tier LoRA. Only the head sizes, which the file must carry, are extra.
    """
    hf_logging.disable_progress_bar()  # "Writing model shards" bars are noise here
    layout = ModelLayout(root)
    sdxl = layout.sdxl
    sdxl.mkdir(parents=True, exist_ok=True)
    seeds = _Seeds(seed)

    unet_generator = seeds.next()
    unet = UNet2DConditionModel(**UNET)
    _randomise(unet, unet_generator)
    unet.save_pretrained(sdxl / "unet")
    seeds.next()
    AutoencoderKL(**VAE).save_pretrained(sdxl / "vae")
    seeds.next()
    CLIPTextModel(text_config(False)).save_pretrained(sdxl / "text_encoder")
    seeds.next()
    CLIPTextModelWithProjection(text_config(True)).save_pretrained(sdxl / "text_encoder_2")
    _write_tokenizer(sdxl / "tokenizer", pad_token="<|endoftext|>")
    _write_tokenizer(sdxl / "tokenizer_2", pad_token="!")
    EulerDiscreteScheduler(**SCHEDULER).save_pretrained(sdxl / "scheduler")
    _write_model_index(sdxl)

    lora_generator = seeds.next()
    encoder = PhotoMakerIdEncoder(
        replace(ID_ENCODER, id_embed_dim=512) if like_release else ID_ENCODER
    )
    lora = _tiny_lora(unet, lora_generator)
    head_dims = {
        "vision_head_dim": ID_ENCODER.vision_head_dim,
        "perceiver_head_dim": ID_ENCODER.perceiver_head_dim,
    }
    save_photomaker(layout.photomaker_dir / "photomaker-v2.bin", encoder, lora, head_dims)
    if like_release:
        _as_released(layout, seed)
        return layout
    # A few-step LoRA for the fast tier, in the kohya format most of them ship in.
    fast = kohya_lora(_tiny_lora(unet, seeds.next()))
    (layout.root / "fast").mkdir(exist_ok=True)
    save_file(fast, layout.root / "fast" / "fast-lora.safetensors")
    return layout


def _as_released(layout: ModelLayout, seed: int) -> None:
    from core.modelkit.tiny_faces import build_tiny_buffalo

    for name in ("unet", "text_encoder", "text_encoder_2"):
        plain = layout.weights_file(name)
        state = {k: v.half().contiguous() for k, v in load_file(plain).items()}
        save_file(state, plain.with_name(plain.name.replace(".safetensors", ".fp16.safetensors")))
        plain.unlink()
    for name in ("tokenizer", "tokenizer_2"):
        (layout.sdxl / name / "tokenizer.json").unlink()
    build_tiny_buffalo(layout.buffalo, seed)


class _Seeds:
    """Reseeds torch before each component, so each one is reproducible on its own."""

    def __init__(self, seed: int) -> None:
        self.seed, self.index = seed, 0

    def next(self) -> torch.Generator:
        self.index += 1
        torch.manual_seed(self.seed * 1000 + self.index)
        return torch.Generator().manual_seed(self.seed * 1000 + self.index)


def _randomise(unet: UNet2DConditionModel, generator: torch.Generator) -> None:
    """diffusers zero-initialises some output layers; give them small random values so the
    tiny UNet's output depends on every input (otherwise conditioning tests prove nothing)."""
    with torch.no_grad():
        for param in unet.parameters():
            if param.abs().sum() == 0 and param.dim() > 1:
                param.normal_(0.0, 0.02, generator=generator)


def _write_tokenizer(folder: Path, pad_token: str) -> None:
    vocab, merges = clip_vocab_and_merges()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77, pad_token=pad_token)
    tokenizer.save_pretrained(folder)
    # Also the classic files that the real SDXL repository ships.
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    merges_text = "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n"
    (folder / "merges.txt").write_text(merges_text)


def _write_model_index(sdxl: Path) -> None:
    index: dict[str, object] = {
        "_class_name": "StableDiffusionXLPipeline",
        "force_zeros_for_empty_prompt": True,
    }
    index |= {name: list(entry) for name, entry in SDXL_COMPONENTS.items()}
    (sdxl / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")


def kohya_lora(lora: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A PEFT-format UNet LoRA in kohya's naming: `lora_unet_<path>.lora_down/up.weight` and
    an `.alpha` per layer (alpha = rank: scale 1)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in lora.items():
        module, part = key.removeprefix("unet.").rsplit(".lora_", 1)
        base = "lora_unet_" + module.replace(".", "_")
        down = part.startswith("A")
        out[f"{base}.lora_{'down' if down else 'up'}.weight"] = value.contiguous()
        if down:
            out[f"{base}.alpha"] = torch.tensor(float(value.shape[0]))
    return out


def _tiny_lora(unet: UNet2DConditionModel, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """A rank-4 LoRA on the UNet's attention projections, in diffusers/PEFT key format."""
    lora: dict[str, torch.Tensor] = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(LORA_TARGETS):
            down = torch.randn(LORA_RANK, module.in_features, generator=generator) * 0.05
            up = torch.randn(module.out_features, LORA_RANK, generator=generator) * 0.05
            lora[f"unet.{name}.lora_A.weight"] = down
            lora[f"unet.{name}.lora_B.weight"] = up
    return lora
