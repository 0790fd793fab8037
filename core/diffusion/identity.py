"""Stage 2: PhotoMaker V2 identity, injected into the face crop by differential diffusion.

Differential diffusion (Levin & Fried) gives every latent pixel its own strength: before each
step, pixels whose keep value exceeds i/N are reset to the original re-noised to that step's
level, so a pixel with keep k follows the original for ⌈k·N⌉ steps and is free afterwards.
Pixels with keep 1 (change 0) come back exactly as they went in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from core.diffusion.components import SDXLComponents, one_painting_at_a_time
from core.diffusion.denoise import DenoiseLoop, StepConditioning, make_scheduler, time_ids
from core.diffusion.masks import step_masks, to_latent
from core.diffusion.params import DEFAULT_NEGATIVE_PROMPT, IdentityParams
from core.diffusion.photomaker import PhotoMakerWeights
from core.diffusion.photomaker.lora import FusedLora
from core.diffusion.photomaker.prompt import (
    tokenize_identity_prompt,
    trigger_prompt,
    with_trigger,
)
from core.diffusion.progress import OnStep, Progress, ShouldStop, never
from core.diffusion.references import Reference
from core.diffusion.schedule import guided_step_count
from core.diffusion.text import Conditioning, encode_ids, encode_negative
from core.diffusion.vae import decode, encode, initial_noise, to_pil, to_tensor
from core.errors import ModelError, UserInputError

STAGE = "identity"
# Masks are indexed by loop step: only schedulers that call the UNet once per step qualify.
ONE_CALL_PER_STEP = frozenset({"euler", "dpmpp_2m"})


@dataclass(frozen=True)
class IdentityRequest:
    crop: Image.Image  # the face crop at the stage-2 size
    references: list[Reference]
    prompt: str  # the scene prompt, without class word or trigger
    change_map: np.ndarray  # (S, S) in 0..1, 1 = regenerate
    class_word: str
    params: IdentityParams = field(default_factory=IdentityParams)
    negative_prompt: str = DEFAULT_NEGATIVE_PROMPT


@dataclass
class IdentityResult:
    image: Image.Image
    latents: torch.Tensor
    seconds: float
    unet_batches: list[int] = field(default_factory=list)


class IdentityStage:
    """PhotoMaker identity, injected by differential diffusion.

    Components: the shared SDXL parts, the PhotoMaker ID encoder, and its LoRA, fused into
    the shared UNet while this stage's loop runs (and only then).
    """

    def __init__(self, components: SDXLComponents, photomaker: PhotoMakerWeights) -> None:
        self.components = components
        self.encoder = photomaker.encoder
        self.lora = FusedLora(components.unet, photomaker.lora)
        self.tokenizer = with_trigger(components.tokenizer)
        self.tokenizer_2 = with_trigger(components.tokenizer_2)

    @one_painting_at_a_time
    @torch.no_grad()
    def __call__(
        self,
        req: IdentityRequest,
        *,
        on_step: OnStep | None = None,
        should_stop: ShouldStop = never,
    ) -> IdentityResult:
        started = time.perf_counter()
        c, p = self.components, req.params
        # 1. Check inputs
        self.check_inputs(req)
        # 2. Encode prompts (text-only, and with the trigger word)
        prompt = trigger_prompt(req.class_word, req.prompt)
        tokens = self.identity_token_count(req)
        one = tokenize_identity_prompt(self.tokenizer, prompt, tokens)
        two = tokenize_identity_prompt(self.tokenizer_2, prompt, tokens)
        text_only = encode_ids(c, one.text_ids, two.text_ids)
        with_class = encode_ids(c, one.ids, two.ids)
        negative = encode_negative(c, req.negative_prompt, text_only)
        # 3. Prepare identity embeddings and fuse them at the class-token rows
        identity = self.fuse_identity(with_class, one.class_mask, req)
        before = StepConditioning(text_only, negative)
        after = StepConditioning(identity, negative)
        # 4. Prepare timesteps, the original's latents and per-step masks
        scheduler = make_scheduler(p.scheduler, c.scheduler_config, p.schedule, p.steps, c.device)
        original = encode(c, to_tensor(req.crop)).float()
        noise = initial_noise(tuple(original.shape), p.seed).to(c.device)
        change = to_latent(req.change_map, original.shape[-1]).to(c.device)
        masks = step_masks(change, p.steps)
        noiser = make_scheduler(
            p.scheduler, c.scheduler_config, p.schedule, p.steps, c.device, for_loop=False
        )
        renoised = [noiser.add_noise(original, noise, t.reshape(1)) for t in noiser.timesteps]
        # 5. Denoising loop: re-insert the re-noised original where the mask holds
        loop = DenoiseLoop(
            c.unet,
            scheduler,
            time_ids(p.crop_size, p.crop_size).to(c.device),
            p.guidance_scale,
            guided_step_count(p.steps, p.guidance_cutoff),
        )
        progress = Progress(STAGE, p.steps, on_step, should_stop)
        merge = p.start_merge_step

        def reinsert(i: int, latents: torch.Tensor) -> torch.Tensor:
            return torch.where(masks[i], renoised[i], latents)

        # Text-only while i <= start_merge_step, identity after: the official pipeline's rule.
        with self.lora.fused():
            latents = loop.run(
                renoised[0],
                lambda i: after if i > merge else before,
                progress,
                before_step=reinsert,
            )
        latents = torch.where(change <= 0, original, latents)  # change 0: exactly the input
        # 6. Decode
        image = to_pil(decode(c, latents))
        return IdentityResult(image, latents, time.perf_counter() - started, loop.batches)

    def check_inputs(self, req: IdentityRequest) -> None:
        size = req.params.crop_size
        if req.crop.size != (size, size):
            raise UserInputError(f"the crop is {req.crop.size}, expected {size}×{size}")
        if req.change_map.shape != (size, size):
            raise UserInputError(f"the change map is {req.change_map.shape}, expected {size}²")
        if not req.references:
            raise UserInputError("at least one reference photo is needed")
        if req.params.scheduler not in ONE_CALL_PER_STEP:
            raise UserInputError(
                f"{req.params.scheduler} is not first-order; differential "
                "diffusion needs one UNet call per step"
            )
        if self.encoder.config.version == 2:
            self._check_embeddings(req.references)

    def _check_embeddings(self, references: list[Reference]) -> None:
        expected = self.encoder.config.id_embed_dim
        for ref in references:
            got = None if ref.embedding is None else ref.embedding.shape[-1]
            if got != expected:
                raise ModelError(
                    f"PhotoMaker V2 needs a {expected}-d face embedding per reference, but the "
                    f"face analyser gave {got}-d for {ref.name} (install insightface's buffalo_l "
                    "models with `narcis models download`)"
                )

    def identity_token_count(self, req: IdentityRequest) -> int:
        images = len(req.references) * req.params.face_id_weight
        return images * self.encoder.config.tokens_per_image

    def fuse_identity(
        self, prompt: Conditioning, class_mask: torch.Tensor, req: IdentityRequest
    ) -> Conditioning:
        c = self.components
        repeats = req.params.face_id_weight
        pixels = torch.stack([r.pixels for r in req.references]).repeat(repeats, 1, 1, 1)
        embeds = None
        if self.encoder.config.version == 2:
            embeds = torch.stack([r.embedding for r in req.references]).repeat(repeats, 1)
            embeds = embeds.to(c.device, self.encoder_dtype)
        tokens = self.encoder.identity_tokens(pixels.to(c.device, self.encoder_dtype), embeds)
        fused = self.encoder.fuse(
            prompt.embeds.to(self.encoder_dtype), tokens.flatten(0, 1), class_mask.to(c.device)
        )
        return Conditioning(fused.to(c.dtype), prompt.pooled)

    @property
    def encoder_dtype(self) -> torch.dtype:
        return next(self.encoder.parameters()).dtype
