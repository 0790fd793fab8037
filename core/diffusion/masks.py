"""Change maps (1 = regenerate, 0 = keep) and the per-step masks of differential diffusion."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

from core.diffusion.crop import CropBox
from core.diffusion.faces import Face


def face_change_map(
    face: Face, box: CropBox, core: float = 1.0, dilation: float = 0.1, feather: float = 0.15
) -> np.ndarray:
    """A soft map over the crop: a solid ellipse on the face, grown, then feathered.

    The ellipse follows the head's roll (from the eyes); sizes are fractions of the face width,
    so the same parameters suit any crop size. Returns (size, size) float32 in 0..1.
    """
    size = box.size
    x0, _y0, x1, _y1 = face.box
    face_width = (x1 - x0) * box.scale
    cx, cy = box.to_crop(np.array([face.centre]))[0]
    # The detection box stops at the brows; the core reaches up to the hairline.
    half_w = face_width * 0.5 * core * (1 + dilation)
    half_h = face_width * 0.65 * core * (1 + dilation)
    cy -= face_width * 0.1
    polygon = _ellipse(cx, cy, half_w, half_h, face.roll())
    canvas = Image.new("L", (size, size), 0)
    ImageDraw.Draw(canvas).polygon(polygon, fill=255)
    radius = feather * face_width / 2
    if radius > 0:
        canvas = canvas.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(canvas, dtype=np.float32) / 255.0


def _ellipse(
    cx: float, cy: float, a: float, b: float, angle: float, points: int = 72
) -> list[tuple[float, float]]:
    cos, sin = math.cos(angle), math.sin(angle)
    out = []
    for k in range(points):
        t = 2 * math.pi * k / points
        x, y = a * math.cos(t), b * math.sin(t)
        out.append((cx + x * cos - y * sin, cy + x * sin + y * cos))
    return out


def to_latent(change: np.ndarray, latent_side: int) -> torch.Tensor:
    """(S, S) pixel map → (1, 1, s, s) latent map, by area averaging."""
    tensor = torch.from_numpy(np.ascontiguousarray(change, dtype=np.float32))[None, None]
    return torch.nn.functional.interpolate(tensor, size=(latent_side, latent_side), mode="area")


def step_masks(change: torch.Tensor, steps: int) -> torch.Tensor:
    """Differential diffusion's nested masks: mask[i] = keep > i/N, keep = 1 − change.

    (steps, 1, 1, h, w) booleans; True means "re-insert the re-noised original at step i".
    A pixel with keep value k is re-inserted for exactly ⌈k·N⌉ steps.
    """
    keep = 1.0 - change.clamp(0, 1)
    thresholds = torch.arange(steps, dtype=keep.dtype, device=keep.device).view(-1, 1, 1, 1, 1)
    thresholds = thresholds / steps
    return keep.unsqueeze(0) > thresholds
