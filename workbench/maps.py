"""Painting over the automatic change map: white asks for more change, black for less, and
the brush's opacity says how strongly."""

from __future__ import annotations

import numpy as np
from PIL import Image


def apply_paint(auto: np.ndarray, paint: Image.Image | None) -> np.ndarray:
    """`auto` (S, S) in 0..1 blended toward the paint's brightness by the paint's alpha."""
    if paint is None:
        return auto
    layer = paint.convert("RGBA").resize(auto.shape[::-1], Image.Resampling.BILINEAR)
    rgba = np.asarray(layer, dtype=np.float32) / 255.0
    alpha, value = rgba[..., 3], rgba[..., :3].mean(axis=-1)
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
        merged = Image.alpha_composite(merged, layer.convert("RGBA"))
    return merged
