"""The PhotoMaker ID encoder, written from the paper and the checkpoint layout.

Parameter names match the official checkpoints, so `photomaker-v1.bin` and `photomaker-v2.bin`
load with `strict=True`. V1 turns each reference image into one identity token (CLIP pooled
output, projected); V2 into two (an ArcFace embedding expanded by `token_proj` and refined by a
perceiver that reads the CLIP patch features). Either way the tokens are fused into the prompt
embedding only at the class-word positions.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn
from transformers import CLIPVisionConfig, CLIPVisionModel


@dataclass(frozen=True)
class IdEncoderConfig:
    """Widths of the encoder; the defaults are the official full-size ones."""

    version: Literal[1, 2] = 2
    vision_hidden: int = 1024
    vision_layers: int = 24
    vision_head_dim: int = 64
    vision_intermediate: int = 4096
    image_size: int = 224
    patch_size: int = 14
    text_dim_1: int = 768  # CLIP-L penultimate width
    text_dim_2: int = 1280  # OpenCLIP bigG penultimate width
    id_embed_dim: int = 512  # ArcFace embedding (V2 only)
    perceiver_layers: int = 4
    perceiver_head_dim: int = 128
    ff_mult: int = 4

    @property
    def fuse_dim(self) -> int:
        return self.text_dim_1 + self.text_dim_2

    @property
    def tokens_per_image(self) -> int:
        return 1 if self.version == 1 else 2

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class MLP(nn.Module):
    """LayerNorm → Linear → GELU → Linear, with an optional residual."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int, residual: bool) -> None:
        super().__init__()
        if residual and in_dim != out_dim:
            raise ValueError("a residual MLP needs equal input and output widths")
        self.residual = residual
        self.layernorm = nn.LayerNorm(in_dim)
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, out_dim)
        self.act_fn = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(self.act_fn(self.fc1(self.layernorm(x))))
        return out + x if self.residual else out


class FuseModule(nn.Module):
    """Blends an identity vector into a prompt row: LN(mlp2(mlp1([p, e]) + p))."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.mlp1 = MLP(dim * 2, dim, dim, residual=False)
        self.mlp2 = MLP(dim, dim, dim, residual=True)
        self.layer_norm = nn.LayerNorm(dim)

    def forward(self, prompt_rows: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        fused = self.mlp1(torch.cat([prompt_rows, identity], dim=-1)) + prompt_rows
        return self.layer_norm(self.mlp2(fused))


class PerceiverAttention(nn.Module):
    """Latents attend to [image features, latents]; no bias, as in the checkpoint."""

    def __init__(self, dim: int, head_dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.head_dim = heads, head_dim
        inner = head_dim * heads
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, features: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        features, latents = self.norm1(features), self.norm2(latents)
        q = self._split(self.to_q(latents))
        k, v = (self._split(t) for t in self.to_kv(torch.cat([features, latents], 1)).chunk(2, -1))
        out = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.to_out(out.transpose(1, 2).flatten(2))

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)


def _feed_forward(dim: int, mult: int) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(dim),
        nn.Linear(dim, dim * mult, bias=False),
        nn.GELU(),
        nn.Linear(dim * mult, dim, bias=False),
    )


class PerceiverResampler(nn.Module):
    def __init__(self, config: IdEncoderConfig) -> None:
        super().__init__()
        dim = config.fuse_dim
        heads = dim // config.perceiver_head_dim
        self.proj_in = nn.Linear(config.vision_hidden, dim)
        self.proj_out = nn.Linear(dim, dim)
        self.norm_out = nn.LayerNorm(dim)
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PerceiverAttention(dim, config.perceiver_head_dim, heads),
                    _feed_forward(dim, config.ff_mult),
                ]
            )
            for _ in range(config.perceiver_layers)
        )

    def forward(self, latents: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        features = self.proj_in(features)
        for attention, feed_forward in self.layers:
            latents = attention(features, latents) + latents
            latents = feed_forward(latents) + latents
        return self.norm_out(self.proj_out(latents))


class QFormerPerceiver(nn.Module):
    """V2: ArcFace embedding → `tokens` queries, refined by reading CLIP patch features."""

    def __init__(self, config: IdEncoderConfig) -> None:
        super().__init__()
        dim, self.tokens = config.fuse_dim, config.tokens_per_image
        self.token_proj = nn.Sequential(
            nn.Linear(config.id_embed_dim, dim), nn.GELU(), nn.Linear(dim, dim * self.tokens)
        )
        self.token_norm = nn.LayerNorm(dim)
        self.perceiver_resampler = PerceiverResampler(config)

    def forward(self, id_embeds: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        queries = self.token_norm(self.token_proj(id_embeds).unflatten(-1, (self.tokens, -1)))
        return queries + self.perceiver_resampler(queries, features)


class PhotoMakerIdEncoder(nn.Module):
    """Reference images (and, for V2, ArcFace embeddings) → identity tokens → fused prompt."""

    def __init__(self, config: IdEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.vision_model = CLIPVisionModel(_vision_config(config))
        self.visual_projection = nn.Linear(config.vision_hidden, config.text_dim_1, bias=False)
        self.visual_projection_2 = nn.Linear(config.vision_hidden, config.text_dim_2, bias=False)
        self.fuse_module = FuseModule(config.fuse_dim)
        if config.version == 2:
            self.qformer_perceiver = QFormerPerceiver(config)

    def identity_tokens(
        self, pixel_values: torch.Tensor, id_embeds: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(images, 3, S, S) [+ (images, 512)] → (images, tokens_per_image, fuse_dim)."""
        vision = self.vision_model(pixel_values=pixel_values)
        if self.config.version == 1:
            pooled = vision.pooler_output
            projected = [self.visual_projection(pooled), self.visual_projection_2(pooled)]
            return torch.cat(projected, dim=-1).unsqueeze(1)
        if id_embeds is None:
            raise ValueError("PhotoMaker V2 needs a face-recognition embedding per image")
        return self.qformer_perceiver(id_embeds, vision.last_hidden_state)

    def fuse(
        self, prompt_embeds: torch.Tensor, identity: torch.Tensor, class_mask: torch.Tensor
    ) -> torch.Tensor:
        """Replace the rows flagged by `class_mask` (batch, seq) with their fused version.

        `identity` holds one vector per flagged row, in order: (flagged rows, fuse_dim).
        """
        flagged = int(class_mask.sum())
        if flagged != identity.shape[0]:
            raise ValueError(f"{flagged} class-token rows but {identity.shape[0]} identity tokens")
        out = prompt_embeds.clone()
        out[class_mask] = self.fuse_module(prompt_embeds[class_mask], identity.to(out.dtype))
        return out


def _vision_config(config: IdEncoderConfig) -> CLIPVisionConfig:
    return CLIPVisionConfig(
        hidden_size=config.vision_hidden,
        intermediate_size=config.vision_intermediate,
        num_hidden_layers=config.vision_layers,
        num_attention_heads=config.vision_hidden // config.vision_head_dim,
        image_size=config.image_size,
        patch_size=config.patch_size,
        projection_dim=config.text_dim_1,
        hidden_act="quick_gelu",
    )


def infer_config(
    state_dict: dict[str, torch.Tensor], head_dims: dict[str, int] | None = None
) -> IdEncoderConfig:
    """Widths from tensor shapes; head sizes (invisible in shapes) from `head_dims` or defaults."""
    shape = {k: tuple(v.shape) for k, v in state_dict.items()}
    try:
        hidden = shape["vision_model.embeddings.class_embedding"][0]
        patch = shape["vision_model.embeddings.patch_embedding.weight"][-1]
        positions = shape["vision_model.embeddings.position_embedding.weight"][0]
        text_1 = shape["visual_projection.weight"][0]
        text_2 = shape["visual_projection_2.weight"][0]
        intermediate = shape["vision_model.encoder.layers.0.mlp.fc1.weight"][0]
    except KeyError as exc:
        raise ValueError(f"not a PhotoMaker ID encoder: missing {exc.args[0]!r}") from None
    v2 = "qformer_perceiver.token_proj.0.weight" in shape
    fields: dict[str, int] = dict(
        version=2 if v2 else 1,
        vision_hidden=hidden,
        vision_layers=_count_layers(shape, "vision_model.encoder.layers."),
        vision_intermediate=intermediate,
        image_size=math.isqrt(positions - 1) * patch,
        patch_size=patch,
        text_dim_1=text_1,
        text_dim_2=text_2,
    )
    if v2:
        fields["id_embed_dim"] = shape["qformer_perceiver.token_proj.0.weight"][1]
        fields["perceiver_layers"] = _count_layers(
            shape, "qformer_perceiver.perceiver_resampler.layers."
        )
        ff_in = shape["qformer_perceiver.perceiver_resampler.layers.0.1.1.weight"]
        fields["ff_mult"] = ff_in[0] // ff_in[1]
    return IdEncoderConfig(**fields, **(head_dims or {}))


def _count_layers(shape: dict[str, tuple[int, ...]], prefix: str) -> int:
    indices = {int(k[len(prefix) :].split(".")[0]) for k in shape if k.startswith(prefix)}
    return max(indices) + 1 if indices else 0
