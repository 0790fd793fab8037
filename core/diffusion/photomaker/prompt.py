"""The trigger-word prompt: "a man img, …" → class token expanded, with a mask of its rows.

The class word's token is repeated once per identity token (images × tokens per image); the
trigger word itself is dropped. The same prompt without the trigger, unexpanded, is the
text-only prompt used before `start_merge_step`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from transformers import CLIPTokenizer

from core.errors import UserInputError

TRIGGER = "img"
NEUTRAL_CLASS_WORD = "person"


@dataclass(frozen=True)
class TokenizedIdentityPrompt:
    ids: torch.Tensor  # (1, 77) with the class token expanded
    class_mask: torch.Tensor  # (1, 77) bool, True on the expanded class tokens
    text_ids: torch.Tensor  # (1, 77) trigger removed, no expansion


def trigger_prompt(class_word: str, prompt: str) -> str:
    return f"a {class_word} {TRIGGER}, {prompt}"


def with_trigger(tokenizer: CLIPTokenizer) -> CLIPTokenizer:
    """A copy of `tokenizer` that knows the trigger as one special token (stage 1 stays pure)."""
    copied = copy.deepcopy(tokenizer)
    copied.add_tokens([TRIGGER], special_tokens=True)
    return copied


def tokenize_identity_prompt(
    tokenizer: CLIPTokenizer, prompt: str, identity_tokens: int
) -> TokenizedIdentityPrompt:
    """Tokenise a prompt containing the trigger for one of SDXL's two tokenizers."""
    trigger_id = tokenizer.convert_tokens_to_ids(TRIGGER)
    ids = tokenizer(prompt, truncation=False).input_ids
    if ids.count(trigger_id) != 1:
        raise UserInputError(
            f"the identity prompt needs the trigger word {TRIGGER!r} exactly "
            f"once, after a class word: {prompt!r}"
        )
    at = ids.index(trigger_id)
    if at < 2:
        raise UserInputError(f"the trigger word {TRIGGER!r} needs a class word before it")
    class_id = ids[at - 1]
    expanded = ids[: at - 1] + [class_id] * identity_tokens + ids[at + 1 :]
    mask = [False] * (at - 1) + [True] * identity_tokens + [False] * (len(ids) - at - 1)
    window = tokenizer.model_max_length
    if at - 1 + identity_tokens >= window - 1:
        raise UserInputError(
            f"too many reference images ({identity_tokens} identity tokens) "
            f"for CLIP's {window}-token window"
        )
    text = ids[:at] + ids[at + 1 :]
    return TokenizedIdentityPrompt(
        ids=_fit(expanded, tokenizer),
        class_mask=torch.tensor([_fit_mask(mask, window)]),
        text_ids=_fit(text, tokenizer),
    )


def _fit(ids: list[int], tokenizer: CLIPTokenizer) -> torch.Tensor:
    """Truncate keeping the end-of-text token, then pad with the tokenizer's pad id."""
    window = tokenizer.model_max_length
    if len(ids) > window:
        ids = [*ids[: window - 1], tokenizer.eos_token_id]
    return torch.tensor([ids + [tokenizer.pad_token_id] * (window - len(ids))])


def _fit_mask(mask: list[bool], window: int) -> list[bool]:
    mask = [*mask[: window - 1], False] if len(mask) > window else mask
    return mask + [False] * (window - len(mask))
