"""Portraits on the wall for tests: real rows and real media files, made without a GPU."""

from __future__ import annotations

import asyncio
import uuid

from PIL import Image, ImageDraw
from uuid_utils import uuid7

from core.store.db import Database
from core.store.derivatives import make_derivatives, make_thumbhash
from core.store.media import MediaStore
from core.store.models import Portrait

IDEAS = [
    "byzantine emperor",
    "vampiric beauty",
    "ranch girl",
    "gothic prodigy",
    "corporate confidence",
    "ethereal beauty",
    "disney character",
]


def picture(index: int, size: int = 320) -> Image.Image:
    hue = (index * 47) % 255
    image = Image.new("RGB", (size, size), (hue, 80, 255 - hue))
    ImageDraw.Draw(image).ellipse(
        (size // 4, size // 5, 3 * size // 4, 4 * size // 5), fill=(230, 200, 170)
    )
    return image


async def seed_portraits(
    db: Database,
    media: MediaStore,
    count: int,
    curated: bool = True,
    session_id: uuid.UUID | None = None,
    shared: bool = True,
) -> list[str]:
    ids = []
    for index in range(count):
        image = picture(index)
        derivatives = make_derivatives(image)
        hash_b64 = make_thumbhash(image)
        pid = uuid.UUID(str(uuid7()))
        keys = {"final": f"portraits/{pid}/final.png"}
        await media.put(keys["final"], b"\x89PNG fake", "image/png")
        for d in derivatives:
            key = f"portraits/{pid}/{d.width}.{d.extension}"
            await media.put(key, d.data, d.content_type)
            keys[f"{d.width}.{d.extension}"] = key
        async with db.session() as session:
            session.add(
                Portrait(
                    id=pid,
                    idea=IDEAS[index % len(IDEAS)],
                    status="done",
                    curated=curated,
                    media=keys,
                    width=image.width,
                    height=image.height,
                    thumbhash=hash_b64,
                    session_id=session_id,
                    shared=shared,
                    prompt="test",
                )
            )
        ids.append(str(pid))
        await asyncio.sleep(0.002)  # distinct UUIDv7 milliseconds keep the order obvious
    return ids
