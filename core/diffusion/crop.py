"""The square face crop that stage 2 works on, and its exact inverse for paste-back."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.diffusion.faces import Face


@dataclass(frozen=True)
class CropBox:
    """A square in base-image pixels, and the size it is scaled to for stage 2."""

    left: int
    top: int
    side: int
    size: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.left, self.top, self.left + self.side, self.top + self.side

    @property
    def scale(self) -> float:
        return self.size / self.side

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        return (points - np.array([self.left, self.top])) * self.scale


def face_crop_box(face: Face, image_size: tuple[int, int], margin: float, size: int) -> CropBox:
    """A square around the face, `margin` face-widths on each side, kept inside the image."""
    width, height = image_size
    x0, y0, x1, y1 = face.box
    face_side = max(x1 - x0, y1 - y0)
    side = round(min(face_side * (1 + 2 * margin), width, height))
    cx, cy = face.centre
    left = round(min(max(cx - side / 2, 0), width - side))
    top = round(min(max(cy - side / 2, 0), height - side))
    return CropBox(left, top, side, size)


def crop(image: Image.Image, box: CropBox) -> Image.Image:
    return image.crop(box.box).resize((box.size, box.size), Image.Resampling.LANCZOS)


def paste_back(
    base: Image.Image, refined: Image.Image, mask: np.ndarray, box: CropBox
) -> Image.Image:
    """Blend the refined crop into `base` by `mask` (crop-sized, 0..1).

    Where the mask is 0 the base pixels are copied unchanged, bit for bit.
    """
    region = (box.side, box.side)
    patch = np.asarray(refined.resize(region, Image.Resampling.LANCZOS), dtype=np.float32)
    weight = np.asarray(
        Image.fromarray(mask.astype(np.float32)).resize(region, Image.Resampling.BILINEAR),
        dtype=np.float32,
    ).clip(0, 1)[..., None]
    out = np.asarray(base, dtype=np.uint8).copy()
    x0, y0, x1, y1 = box.box
    original = out[y0:y1, x0:x1].astype(np.float32)
    blended = np.rint(original * (1 - weight) + patch * weight).clip(0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(weight > 0, blended, out[y0:y1, x0:x1])
    return Image.fromarray(out)
