"""The change map an operator edits: the automatic map (or an uploaded one), optionally
inverted, then painted over — white asks for change, black for keep, and the stroke's
strength slider (its opacity) says how strongly."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
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
        """The edited map, derived once per content: a run and the preview after it (and a
        rerun with the same strokes) share it. A copy, so no caller can spoil the cache."""
        key = (_digest(auto), _digest(self.upload), self.invert, _digest(self.paint))
        return derived_maps.get((*key, self.strength), lambda: self.derive(auto)).copy()

    def derive(self, auto: np.ndarray) -> np.ndarray:
        change = auto if self.upload is None else uploaded_map(self.upload, auto.shape)
        if self.invert:
            change = 1.0 - change
        return apply_paint(change, self.paint, self.strength)


class DerivedMaps:
    """The last few edited maps by the digest of everything they come from. Shared by every
    session's events (Gradio runs them on several threads): guarded by a lock."""

    def __init__(self, size: int = 8) -> None:
        self.size, self._maps = size, OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, derive: Callable[[], np.ndarray]) -> np.ndarray:
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        found = derive()  # outside the lock: two sessions may derive at once
        with self._lock:
            self._maps[key] = found
            while len(self._maps) > self.size:
                self._maps.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()


derived_maps = DerivedMaps()


def _digest(item: np.ndarray | Image.Image | None) -> bytes | None:
    if item is None:
        return None
    if isinstance(item, Image.Image):
        data, shape = item.tobytes(), (item.mode, item.size)
    else:
        data, shape = np.ascontiguousarray(item).tobytes(), (item.dtype.str, item.shape)
    digest = hashlib.blake2b(repr(shape).encode(), digest_size=16)
    digest.update(data)
    return digest.digest()


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
