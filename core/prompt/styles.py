"""Style presets: each wraps the prompt in its own words and adds things to avoid."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str
    template: str  # contains {prompt}
    negative: str = ""

    def wrap(self, prompt: str) -> str:
        return self.template.format(prompt=prompt)


_PRESETS = [
    Style("none", "{prompt}"),
    Style(
        "cinematic",
        "cinematic film still, {prompt}, shallow depth of field, anamorphic, film grain",
        "cartoon, illustration, flat colours",
    ),
    Style(
        "photographic",
        "photograph, {prompt}, 85mm lens, natural skin texture, sharp focus",
        "painting, drawing, illustration, cartoon, 3d render",
    ),
    Style(
        "digital-art",
        "digital artwork, {prompt}, crisp detail, vivid, trending concept art",
        "photograph, film grain",
    ),
    Style(
        "fantasy-art",
        "epic fantasy painting, {prompt}, magical atmosphere, intricate",
        "photograph, modern clothing",
    ),
    Style(
        "neonpunk",
        "neonpunk, {prompt}, glowing neon, cyberpunk haze, vaporwave colours",
        "muted colours, daylight, rustic",
    ),
    Style(
        "comic-book",
        "comic book panel, {prompt}, bold ink lines, halftone shading",
        "photograph, realistic, blurry",
    ),
    Style(
        "low-poly",
        "low-poly 3d portrait, {prompt}, faceted geometry, clean gradients",
        "photograph, noisy, painterly",
    ),
    Style(
        "line-art",
        "elegant line art, {prompt}, single continuous line, minimal, white ground",
        "colour fills, shading, photograph",
    ),
    Style(
        "oil-painting",
        "oil painting, {prompt}, rich impasto, visible brushstrokes, museum piece",
        "photograph, digital art, smooth plastic",
    ),
    Style(
        "byzantine-mosaic",
        "byzantine mosaic, {prompt}, gold tesserae, flat sacred icon, halo",
        "photograph, 3d render, perspective depth",
    ),
    Style(
        "watercolour",
        "watercolour portrait, {prompt}, soft washes, paper texture, blooms",
        "photograph, hard edges, 3d render",
    ),
]
STYLES: dict[str, Style] = {style.name: style for style in _PRESETS}
