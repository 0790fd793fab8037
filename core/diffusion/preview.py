"""Live previews: the current prediction of the clean image, small and cheap, every few steps.

Stage 2 paints a close-up crop of the face; its previews are pasted into a small copy of the
base where the crop sits (by the change map, as the finished crop will be), so that a viewer
sees the face being repainted in place rather than a close-up that jumps in and out.

No full-size VAE decode: SDXL's latents map to RGB almost linearly, so a 4×3 matrix and a bias
give a recognisable picture at latent resolution (1/8 of the side). When the models folder
holds a tiny VAE (TAESD for SDXL, diffusers layout in `taesdxl/`), it decodes instead: sharper,
still a few milliseconds on a GPU. Either way one small uint8 image is copied to the CPU per
preview, and nothing at all happens on the other steps.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from core.diffusion.crop import CropBox, paste_back
from core.diffusion.progress import OnStep, StepEvent

Place = Callable[[Image.Image], Image.Image]  # a preview → the picture it belongs in

# SDXL latent → RGB in [-1, 1]: rows are the 4 latent channels, columns R, G, B. These are the
# factors ComfyUI publishes for SDXL (comfy/latent_formats.py), a least-squares fit of decoded
# images against their latents; we did not refit them (no real SDXL VAE is available here).
SDXL_LATENT_RGB = (
    (0.3651, 0.4232, 0.4341),
    (-0.2533, -0.0042, 0.1068),
    (0.1076, 0.1111, -0.0362),
    (-0.3165, -0.2492, -0.2188),
)
SDXL_LATENT_RGB_BIAS = (0.1084, -0.0175, -0.0011)
MAX_SIDE = 256


class Previewer:
    """Predicted clean latents → a small WebP; counts its own calls and time (for the bench)."""

    def __init__(self, tiny_vae: torch.nn.Module | None = None, max_side: int = MAX_SIDE) -> None:
        self.tiny_vae, self.max_side = tiny_vae, max_side
        self.count, self.seconds = 0, 0.0

    @classmethod
    def load(cls, taesd_folder: Path, device: torch.device, dtype: torch.dtype) -> Previewer:
        """With the tiny VAE when the folder holds one, the linear approximation otherwise."""
        if not (taesd_folder / "config.json").is_file():
            return cls()
        from diffusers import AutoencoderTiny

        vae = AutoencoderTiny.from_pretrained(taesd_folder, torch_dtype=dtype)
        return cls(vae.to(device).eval().requires_grad_(False))

    @property
    def kind(self) -> str:
        return "taesd" if self.tiny_vae is not None else "linear"

    @torch.no_grad()
    def render(self, clean: torch.Tensor, place: Place | None = None) -> bytes:
        started = time.perf_counter()
        pixels = self.rgb(clean[:1])
        side = max(pixels.shape[-2:])
        if side > self.max_side:  # shrink on the device: only the small image travels
            scale = self.max_side / side
            pixels = torch.nn.functional.interpolate(
                pixels, scale_factor=scale, mode="bilinear", antialias=True
            )
        small = ((pixels[0].clamp(-1, 1) + 1) * 127.5).round().to("cpu", torch.uint8)
        image = Image.fromarray(small.permute(1, 2, 0).numpy())
        data = webp(place(image) if place is not None else image)
        self.count += 1
        self.seconds += time.perf_counter() - started
        return data

    def rgb(self, clean: torch.Tensor) -> torch.Tensor:
        """(1, 4, h, w) latents → (1, 3, H, W) in [-1, 1]."""
        if self.tiny_vae is not None:
            dtype = next(self.tiny_vae.parameters()).dtype
            return self.tiny_vae.decode(clean.to(dtype), return_dict=False)[0].float()
        return latent_rgb(clean)


def latent_rgb(latents: torch.Tensor) -> torch.Tensor:
    """The linear approximation, at latent resolution."""
    factors = torch.tensor(SDXL_LATENT_RGB, device=latents.device, dtype=torch.float32)
    bias = torch.tensor(SDXL_LATENT_RGB_BIAS, device=latents.device, dtype=torch.float32)
    rgb = torch.einsum("bchw,cr->brhw", latents.float(), factors)
    return rgb + bias.view(1, 3, 1, 1)


def webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=70, method=2)
    return buffer.getvalue()


def previews_per_stage(total: int, wanted: int = 5) -> int:
    """Steps between previews: about `wanted` per stage, whatever the step count."""
    return max(1, round(total / wanted))


@dataclass
class PreviewingListener:
    """An `on_step` that also asks for previews: every `every` steps (default: about 5 per
    stage), never on a stage's last step (the finished image follows at once), and never
    sooner than `min_interval_s` after the last one (a throttle for very fast steps)."""

    on_step: OnStep
    previewer: Previewer
    min_interval_s: float = 0.0
    every: int | None = None
    previews: int = field(default=0, init=False)
    seconds: float = field(default=0.0, init=False)  # spent making previews, all told
    last: float = field(default=-float("inf"), init=False)

    def wants_preview(self, step: int, total: int) -> bool:
        every = self.every or previews_per_stage(total)
        if step >= total or step % every:
            return False
        return time.monotonic() - self.last >= self.min_interval_s

    def __call__(self, event: StepEvent) -> None:
        self.on_step(event)

    def preview(
        self, event: StepEvent, clean: Callable[[], torch.Tensor], place: Place | None = None
    ) -> StepEvent:
        started = time.perf_counter()
        data = self.previewer.render(clean(), place)
        self.previews += 1
        self.seconds += time.perf_counter() - started
        self.last = time.monotonic()
        return StepEvent(event.stage, event.step, event.total, data)


@dataclass(frozen=True)
class InBase:
    """Pastes a stage-2 preview into a small copy of the base, where the crop sits."""

    base: Image.Image  # at preview size
    box: CropBox  # in the small base's pixels
    mask: np.ndarray  # the change map, box-sized

    @classmethod
    def of(cls, base: Image.Image, box: CropBox, change: np.ndarray, max_side: int) -> InBase:
        scale = min(1.0, max_side / max(base.size))
        small = base.convert("RGB").resize(
            (max(1, round(base.width * scale)), max(1, round(base.height * scale))),
            Image.Resampling.LANCZOS,
        )
        side = max(1, min(round(box.side * scale), small.width, small.height))
        left = min(round(box.left * scale), small.width - side)
        top = min(round(box.top * scale), small.height - side)
        mask = Image.fromarray(change.astype(np.float32)).resize(
            (side, side), Image.Resampling.BILINEAR
        )
        return cls(small, CropBox(left, top, side, side), np.asarray(mask))

    def __call__(self, preview: Image.Image) -> Image.Image:
        return paste_back(self.base, preview.convert("RGB"), self.mask, self.box)


@dataclass
class PreviewsInBase:
    """Stage 2's listener: the same listener (its counters, its throttle), previews in place."""

    listener: PreviewingListener
    place: InBase

    def __call__(self, event: StepEvent) -> None:
        self.listener(event)

    def wants_preview(self, step: int, total: int) -> bool:
        return self.listener.wants_preview(step, total)

    def preview(self, event: StepEvent, clean: Callable[[], torch.Tensor]) -> StepEvent:
        return self.listener.preview(event, clean, self.place)


def in_base(
    on_step: OnStep | None, base: Image.Image, box: CropBox, change: np.ndarray
) -> OnStep | None:
    """`on_step` for stage 2: previews pasted into the base when it takes previews at all."""
    if not isinstance(on_step, PreviewingListener):
        return on_step
    return PreviewsInBase(on_step, InBase.of(base, box, change, on_step.previewer.max_side))
