"""The change map an operator edits: the automatic map (or an uploaded one), optionally
inverted, then painted over — white asks for change, black for keep, and the stroke's
strength slider (its opacity) says how strongly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

BOX_COLOUR = (216, 180, 106)


@dataclass(frozen=True)
class MapEdit:
    """Everything the operator did to the automatic map, applied in this order."""

    upload: Image.Image | None = None  # replaces the automatic map (white = change)
    invert: bool = False
    paint: Image.Image | None = None  # RGBA brush strokes over the crop
    strength: float = 1.0  # 0..1: how far a stroke pulls the map toward its colour

    def __call__(self, auto: np.ndarray) -> np.ndarray:
        change = auto if self.upload is None else uploaded_map(self.upload, auto.shape)
        if self.invert:
            change = 1.0 - change
        return apply_paint(change, self.paint, self.strength)


def uploaded_map(image: Image.Image, shape: tuple[int, int]) -> np.ndarray:
    grey = image.convert("L").resize(shape[::-1], Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float32) / 255.0


def apply_paint(auto: np.ndarray, paint: Image.Image | None, strength: float = 1.0) -> np.ndarray:
    """`auto` (S, S) in 0..1 blended toward the paint's brightness by alpha × strength."""
    if paint is None:
        return auto
    layer = paint.convert("RGBA").resize(auto.shape[::-1], Image.Resampling.BILINEAR)
    rgba = np.asarray(layer, dtype=np.float32) / 255.0
    alpha, value = rgba[..., 3] * strength, rgba[..., :3].mean(axis=-1)
    return (auto * (1 - alpha) + value * alpha).clip(0, 1).astype(np.float32)


def overlay(crop: Image.Image, change: np.ndarray) -> Image.Image:
    """The crop with the map laid over it in red: what will be repainted, and how much."""
    red = Image.new("RGB", crop.size, (230, 40, 40))
    alpha = Image.fromarray((change * 170).astype(np.uint8)).resize(crop.size)
    return Image.composite(red, crop.convert("RGB"), alpha)


def paint_layer(editor_value: dict | None) -> Image.Image | None:
    """The brush strokes of a Gradio ImageEditor value, merged into one RGBA layer."""
    if not editor_value or not editor_value.get("layers"):
        return None
    layers = [layer for layer in editor_value["layers"] if layer is not None]
    if not layers:
        return None
    merged = Image.new("RGBA", layers[0].size, (0, 0, 0, 0))
    for layer in layers:
        merged = Image.alpha_composite(merged, layer.convert("RGBA").resize(merged.size))
    if not merged.getchannel("A").getbbox():
        return None  # an empty layer paints nothing
    return merged


def editor_value(background: Image.Image, paint: Image.Image | None) -> dict:
    """What the editor shows after a run: the new background *and* the strokes that were
    applied, so nothing applied is hidden and a new stroke adds to the old ones."""
    layers = [] if paint is None else [paint.resize(background.size)]
    return {"background": background, "layers": layers, "composite": None}
