"""Speed tiers: the same pipeline with fewer steps or a smaller picture.

- quality (default): 20 + 20 steps at 1024², the last 20% of each stage unguided.
- fast: 8 + 8 steps; with a few-step LoRA in the models folder (`fast/*.safetensors`, e.g.
  Hyper-SD's 8-step LoRA, which keeps guidance) the steps look like quality's.
- preview: 6 + 6 steps at 512², for sweeps and trying ideas.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.diffusion.params import PortraitParams
from core.errors import UserInputError


@dataclass(frozen=True)
class Tier:
    steps: int
    size: int | None  # None keeps the requested size


TIERS = {"quality": Tier(20, None), "fast": Tier(8, None), "preview": Tier(6, 512)}


def apply_tier(params: PortraitParams, tier: str, keep_size: bool = False) -> PortraitParams:
    if tier not in TIERS:
        raise UserInputError(f"unknown tier {tier!r} (choose from {', '.join(TIERS)})")
    spec = TIERS[tier]
    composition = {"steps": spec.steps}
    identity = {"steps": spec.steps}
    if spec.size is not None and not keep_size:
        composition |= {"width": spec.size, "height": spec.size}
        identity |= {"crop_size": min(params.identity.crop_size, spec.size)}
    return params.model_copy(
        update={
            "tier": tier,
            "composition": params.composition.model_copy(update=composition),
            "identity": params.identity.model_copy(update=identity),
        }
    )
