"""Reading and writing PhotoMaker adapter files (`.bin` or `.safetensors`).

A `.bin` holds exactly two top-level keys, `id_encoder` and `lora_weights`; a `.safetensors`
file holds the same tensors under the prefixes `id_encoder.` and `lora_weights.`. An optional
`id_encoder.json` beside the file gives head sizes, which tensor shapes cannot reveal (the
tiny model set writes one; the official files need none).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from core.diffusion.photomaker.encoder import IdEncoderConfig, PhotoMakerIdEncoder, infer_config
from core.errors import ModelError

SIDE_CAR = "id_encoder.json"
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


def read_config(path: Path, encoder_state: dict[str, torch.Tensor]) -> IdEncoderConfig:
    side_car = path.parent / SIDE_CAR
    head_dims = json.loads(side_car.read_text()) if side_car.exists() else None
    try:
        return infer_config(encoder_state, head_dims)
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
    head_dims: dict[str, int],
) -> None:
    """Write an adapter file in the official layout, plus the head-size side car."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in encoder.state_dict().items()}
    if path.suffix == ".safetensors":
        flat = {f"id_encoder.{k}": v for k, v in state.items()}
        flat |= {f"lora_weights.{k}": v.contiguous() for k, v in lora.items()}
        save_file(flat, path)
    else:
        torch.save({"id_encoder": state, "lora_weights": lora}, path)
    (path.parent / SIDE_CAR).write_text(json.dumps(head_dims, indent=2) + "\n")
