"""Reading and writing PhotoMaker adapter files (`.bin` or `.safetensors`).

A `.bin` holds the two top-level keys `id_encoder` and `lora_weights`; a `.safetensors` file
holds the same tensors under the prefixes `id_encoder.` and `lora_weights.`. Head sizes cannot
be read from tensor shapes: the official files use the defaults, and a file with other sizes
(the tiny set's) carries them inside itself — a third key `head_dims` in a `.bin`, metadata in
a `.safetensors` — never in a file beside it, which another checkpoint could have left.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder, infer_config
from core.errors import ModelError

HEAD_DIMS = "head_dims"
# Buffers that very old transformers versions saved; harmless to drop.
LEGACY_KEYS = frozenset({"vision_model.embeddings.position_ids"})
_PARTS = ("id_encoder", "lora_weights")


@dataclass
class PhotoMakerWeights:
    encoder: PhotoMakerIdEncoder
    lora: dict[str, torch.Tensor]

    @property
    def version(self) -> int:
        return self.encoder.config.version


def read_parts(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """The file's `id_encoder` and `lora_weights` state dicts, without building a model."""
    if not path.is_file():
        raise ModelError(f"PhotoMaker file {path} does not exist")
    try:
        if path.suffix == ".safetensors":
            flat = load_file(path)
            parts = {p: _strip(flat, p + ".") for p in _PARTS}
        else:
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            parts = raw if isinstance(raw, dict) else {}
    except Exception as exc:  # any unreadable file is one kind of user-facing problem
        raise ModelError(f"{path} is not a readable PhotoMaker file: {exc}") from None
    missing = [p for p in _PARTS if not parts.get(p)]
    if missing:
        raise ModelError(f"{path} has no {' or '.join(missing)} (expected keys {list(_PARTS)})")
    return {p: parts[p] for p in _PARTS}


def _strip(flat: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}


def read_head_dims(path: Path) -> dict[str, int] | None:
    """The head sizes the file itself declares, or None for the official defaults."""
    try:
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as handle:
                text = (handle.metadata() or {}).get(HEAD_DIMS)
            return json.loads(text) if text else None
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:
        raise ModelError(f"{path} is not a readable PhotoMaker file: {exc}") from None
    found = raw.get(HEAD_DIMS) if isinstance(raw, dict) else None
    return {str(k): int(v) for k, v in found.items()} if isinstance(found, dict) else None


def read_config(path: Path, encoder_state: dict[str, torch.Tensor]) -> IdEncoderConfig:
    try:
        return infer_config(encoder_state, read_head_dims(path))
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{path}: {exc}") from None


def load_photomaker(
    path: Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> PhotoMakerWeights:
    """Build the encoder the file describes and load it strictly; return it with the LoRA."""
    parts = read_parts(path)
    encoder_state = {k: v for k, v in parts["id_encoder"].items() if k not in LEGACY_KEYS}
    config = read_config(path, encoder_state)
    with torch.device("meta"):
        encoder = PhotoMakerIdEncoder(config)
    problems = state_dict_problems(encoder, encoder_state)
    if problems:
        raise ModelError(f"{path}: " + "; ".join(problems))
    encoder.load_state_dict(encoder_state, strict=True, assign=True)
    encoder.vision_model.embeddings.register_buffer(
        "position_ids",
        torch.arange(encoder.vision_model.embeddings.num_positions)[None],
        persistent=False,
    )
    return PhotoMakerWeights(encoder.to(device=device, dtype=dtype).eval(), parts["lora_weights"])


def state_dict_problems(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Plain-words differences between a model's parameters and a state dict (empty if none)."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [f"missing tensor {k}" for k in expected if k not in state]
    problems += [f"unexpected tensor {k}" for k in state if k not in expected]
    problems += [
        f"tensor {k} has shape {list(state[k].shape)}, expected {list(shape)}"
        for k, shape in expected.items()
        if k in state and tuple(state[k].shape) != shape
    ]
    return problems


def save_photomaker(
    path: Path,
    encoder: PhotoMakerIdEncoder,
    lora: dict[str, torch.Tensor],
    head_dims: dict[str, int] | None = None,
) -> None:
    """Write an adapter file in the official layout; head sizes other than the official ones
    go inside the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in encoder.state_dict().items()}
    if path.suffix == ".safetensors":
        flat = {f"id_encoder.{k}": v for k, v in state.items()}
        flat |= {f"lora_weights.{k}": v.contiguous() for k, v in lora.items()}
        save_file(flat, path, metadata={HEAD_DIMS: json.dumps(head_dims)} if head_dims else None)
    else:
        parts: dict = {"id_encoder": state, "lora_weights": lora}
        torch.save(parts | ({HEAD_DIMS: head_dims} if head_dims else {}), path)
