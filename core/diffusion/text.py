"""SDXL prompt encoding: both CLIP encoders' penultimate states, pooled from the second."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import CLIPTokenizer

from core.diffusion.components import SDXLComponents


@dataclass
class Conditioning:
    """One side of guidance for the UNet: token states (B, 77, D) and pooled text (B, P)."""

    embeds: torch.Tensor
    pooled: torch.Tensor

    @staticmethod
    def cat(parts: list[Conditioning]) -> Conditioning:
        return Conditioning(
            torch.cat([p.embeds for p in parts]), torch.cat([p.pooled for p in parts])
        )

    def zeros_like(self) -> Conditioning:
        return Conditioning(torch.zeros_like(self.embeds), torch.zeros_like(self.pooled))


def token_ids(tokenizer: CLIPTokenizer, prompt: str) -> torch.Tensor:
    """(1, 77) ids, padded with the tokenizer's own pad token, truncated to the window."""
    return tokenizer(
        prompt,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    ).input_ids


def overflow_tokens(tokenizer: CLIPTokenizer, prompt: str) -> int:
    """How many tokens of `prompt` fall outside the 77-token window (0 when it fits)."""
    length = len(tokenizer(prompt, truncation=False, verbose=False).input_ids)
    return max(0, length - tokenizer.model_max_length)


@torch.no_grad()
def encode_ids(
    components: SDXLComponents, ids_1: torch.Tensor, ids_2: torch.Tensor
) -> Conditioning:
    device = components.device
    out_1 = components.text_encoder(ids_1.to(device), output_hidden_states=True)
    out_2 = components.text_encoder_2(ids_2.to(device), output_hidden_states=True)
    embeds = torch.cat([out_1.hidden_states[-2], out_2.hidden_states[-2]], dim=-1)
    return Conditioning(embeds.to(components.dtype), out_2.text_embeds.to(components.dtype))


def encode_prompt(components: SDXLComponents, prompt: str) -> Conditioning:
    return encode_ids(
        components,
        token_ids(components.tokenizer, prompt),
        token_ids(components.tokenizer_2, prompt),
    )


def encode_negative(components: SDXLComponents, negative: str, like: Conditioning) -> Conditioning:
    """SDXL base was trained with zeros for an empty negative prompt."""
    return like.zeros_like() if not negative.strip() else encode_prompt(components, negative)
