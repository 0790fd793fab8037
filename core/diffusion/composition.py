"""Stage 1: plain SDXL text-to-image. The picture's composition, style and light come from here."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from PIL import Image

from core.diffusion.components import SDXLComponents, one_painting_at_a_time
from core.diffusion.denoise import DenoiseLoop, StepConditioning, make_scheduler, time_ids
from core.diffusion.params import CompositionParams
from core.diffusion.progress import OnStep, Progress, ShouldStop, never
from core.diffusion.schedule import guided_step_count
from core.diffusion.text import encode_negative, encode_prompt, overflow_tokens
from core.diffusion.vae import decode, initial_noise, to_pil
from core.errors import UserInputError

STAGE = "composition"


@dataclass
class CompositionResult:
    image: Image.Image
    latents: torch.Tensor  # final latents, kept so stage 2 can reuse them
    params: CompositionParams
    seconds: float
    warnings: list[str] = field(default_factory=list)
    unet_batches: list[int] = field(default_factory=list)


class CompositionStage:
    """SDXL text-to-image with the AYS schedule and a guidance cut-off.

    Components: UNet, VAE, both text encoders and tokenizers (one `SDXLComponents`).
    """

    def __init__(self, components: SDXLComponents) -> None:
        self.components = components

    @one_painting_at_a_time
    @torch.no_grad()
    def __call__(
        self,
        params: CompositionParams,
        *,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
    ) -> CompositionResult:
        started = time.perf_counter()
        c = self.components
        # 1. Check inputs
        self.check_inputs(params)
        warnings = self.prompt_warnings(params)
        # 2. Encode prompt and negative prompt
        positive = encode_prompt(c, params.prompt)
        sides = StepConditioning(positive, encode_negative(c, params.negative_prompt, positive))
        # 3. Prepare timesteps
        scheduler = make_scheduler(
            params.scheduler, c.scheduler_config, params.schedule, params.steps, c.device
        )
        # 4. Prepare latents
        latents = self.prepare_latents(params) * scheduler.init_noise_sigma
        # 5. Denoising loop, guidance off for the last `guidance_cutoff` of steps
        loop = DenoiseLoop(
            c.unet,
            scheduler,
            time_ids(params.height, params.width).to(c.device),
            params.guidance_scale,
            guided_step_count(params.steps, params.guidance_cutoff),
        )
        progress = Progress(STAGE, params.steps, on_step, should_stop)
        latents = loop.run(latents, lambda _: sides, progress)
        # 6. Decode
        image = to_pil(decode(c, latents))
        seconds = time.perf_counter() - started
        return CompositionResult(image, latents, params, seconds, warnings, loop.batches)

    def check_inputs(self, params: CompositionParams) -> None:
        scale = self.components.vae_scale
        for name in ("width", "height"):
            value = getattr(params, name)
            if value % scale:
                raise UserInputError(f"{name} {value} is not a multiple of {scale}")

    def prompt_warnings(self, params: CompositionParams) -> list[str]:
        warnings = []
        for name in ("prompt", "negative_prompt"):
            over = overflow_tokens(self.components.tokenizer, getattr(params, name))
            if over:
                warnings.append(
                    f"{name} is {over} tokens over CLIP's 77-token window; the end is cut off"
                )
        return warnings

    def prepare_latents(self, params: CompositionParams) -> torch.Tensor:
        c = self.components
        channels = c.unet.config.in_channels
        shape = (1, channels, params.height // c.vae_scale, params.width // c.vae_scale)
        return initial_noise(shape, params.seed).to(c.device, torch.float32)
