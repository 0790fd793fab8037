"""Labelled contact sheets: the grid a sweep's results are shown in (workbench and bot)."""

from __future__ import annotations

from PIL import Image, ImageDraw

CAPTION = 22


def contact_sheet(
    images: list[Image.Image | None], labels: list[str], columns: int, cell: int = 256
) -> Image.Image:
    """Images in rows of `columns`, each under its label; a missing image is a dark cell."""
    rows = -(-len(images) // columns)
    sheet = Image.new("RGB", (columns * cell, rows * (cell + CAPTION)), (12, 12, 14))
    draw = ImageDraw.Draw(sheet)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (index % columns) * cell, (index // columns) * (cell + CAPTION)
        if image is not None:
            sheet.paste(image.convert("RGB").resize((cell, cell)), (x, y + CAPTION))
        draw.text((x + 6, y + 5), label, fill=(230, 220, 200))
    return sheet
