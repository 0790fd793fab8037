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
# Which noise levels a run visits (core/diffusion/schedule.py): "ays" interpolates the 10 AYS
# timesteps, "ays-sigmas" the 11 AYS sigmas (NVIDIA's recipe), "default" is the scheduler's own.
ScheduleName = Literal["ays", "ays-sigmas", "default"]


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
    schedule: ScheduleName = "ays"
    seed: Seed = 0


class IdentityParams(Params):
    """Stage 2: PhotoMaker identity on the face crop, by differential diffusion."""

    prompt: Annotated[str, Field(max_length=2000)] | None = None  # None: the stage-1 prompt
    steps: Steps = 20
    guidance_scale: Guidance = 4.0
    guidance_cutoff: Fraction = 0.2
    scheduler: SchedulerName = "dpmpp_2m"
    schedule: ScheduleName = "ays"
    style_strength: Annotated[float, Field(ge=0.0, le=100.0)] = 20.0
    face_id_weight: Annotated[int, Field(ge=1, le=4)] = 1  # how often each reference repeats
    class_word: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[a-z]+$")] | None = (
        None  # None: from face analysis (man/woman), "person" when unknown
    )
    crop_size: Annotated[int, Field(ge=64, le=2048, multiple_of=64)] = 1024
    crop_margin: Annotated[float, Field(ge=0.0, le=2.0)] = 0.6
    mask_core: Annotated[float, Field(ge=0.3, le=2.0)] = 1.0
    mask_dilation: Annotated[float, Field(ge=0.0, le=1.0)] = 0.1
    mask_feather: Annotated[float, Field(ge=0.0, le=1.0)] = 0.15
    # Where the face is, as fractions (x0, y0, x1, y1) of the picture, when an operator places
    # it by hand instead of trusting face detection.
    face_box: tuple[Fraction, Fraction, Fraction, Fraction] | None = None
    seed: Seed = 0

    @property
    def start_merge_step(self) -> int:
        """The last step (0-based) that runs text-only: identity joins at step
        `start_merge_step + 1`, as in the official PhotoMaker pipeline (`i <= start_merge_step`
        is text-only), so `start_merge_step + 1` steps run without it (5 at the defaults)."""
        return min(int(self.style_strength / 100 * self.steps), 30)


class PortraitParams(Params):
    """The whole two-stage portrait."""

    kind: Literal["portrait"] = "portrait"
    version: Literal[1] = 1
    tier: Literal["quality", "fast", "preview"] = "quality"  # fast: the few-step LoRA, if any
    idea: Annotated[str, Field(max_length=60)] | None = None
    composition: CompositionParams
    identity: IdentityParams = IdentityParams()
    face_retries: Annotated[int, Field(ge=0, le=10)] = 3  # new stage-1 seeds when no face
    # No face found in any try: stage 2 paints one where the framing prior places it
    # (core/diffusion/framing.py) instead of failing. Operators turn it off: NARCIS_PLACE_FACE=0.
    place_face: bool = True
    # As run: "placed" when stage 2 painted the face where the framing prior put it (its box is
    # identity.face_box); None when the face was detected or given.
    face: Literal["placed"] | None = None
