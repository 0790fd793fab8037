"""Typed, versioned, JSON-serialisable parameters: a result is reproducible from them alone."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_NEGATIVE_PROMPT = (
    "blurry, lowres, deformed face, distorted features, extra fingers, bad anatomy, "
    "watermark, signature, text, jpeg artifacts, oversaturated"
)

Side = Annotated[int, Field(ge=64, le=2048, multiple_of=8)]
Seed = Annotated[int, Field(ge=0, lt=2**63)]
Steps = Annotated[int, Field(ge=1, le=150)]
Guidance = Annotated[float, Field(ge=0.0, le=30.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
SchedulerName = Literal["dpmpp_2m", "euler"]


class Params(BaseModel):
    """Base: frozen, unknown fields rejected (a typo must not be silently ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_json(self) -> str:
        return self.model_dump_json()


class CompositionParams(Params):
    """Stage 1: plain SDXL text-to-image."""

    kind: Literal["composition"] = "composition"
    version: Literal[1] = 1
    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    negative_prompt: Annotated[str, Field(max_length=2000)] = DEFAULT_NEGATIVE_PROMPT
    width: Side = 1024
    height: Side = 1024
    steps: Steps = 20
    guidance_scale: Guidance = 8.0
    guidance_cutoff: Fraction = 0.2  # the last 20% of steps run without guidance
    scheduler: SchedulerName = "dpmpp_2m"
    seed: Seed = 0
