"""Real face photos that ship inside packages, for tests that need two different people."""

from __future__ import annotations

from PIL import Image, ImageFilter, ImageOps


def hopper() -> Image.Image:
    """Grace Hopper's portrait from matplotlib's sample data (public domain, US Navy)."""
    import matplotlib.cbook

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return Image.open(path).convert("RGB")


def restyle(image: Image.Image) -> Image.Image:
    """A photo repainted in another style: duotone, posterised, softened."""
    toned = ImageOps.colorize(ImageOps.grayscale(image), (40, 20, 60), (250, 220, 150))
    return ImageOps.posterize(toned, 3).filter(ImageFilter.GaussianBlur(1.0))
