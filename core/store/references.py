"""Reference photos: validated, stored once by content, their face analysis cached by hash."""

from __future__ import annotations

import io
import uuid

from PIL import Image
from sqlalchemy import select

from core.photos import load_photo
from core.store.db import Database
from core.store.media import MediaStore, content_key
from core.store.models import ReferenceFace

PREFIX = "faces"


def clean_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def store_reference(
    db: Database, media: MediaStore, data: bytes, name: str, session_id: uuid.UUID | None = None
) -> str:
    """Validate an uploaded photo and store it without metadata; returns its media key.

    The same picture uploaded twice is stored once (and analysed once, by the worker).
    """
    png = clean_png(load_photo(data, name))
    key = content_key(PREFIX, png, "png")
    digest = key.rsplit("/", 1)[1].split(".")[0]
    await media.put(key, png, "image/png")
    async with db.session() as session:
        found = await session.scalar(
            select(ReferenceFace).where(ReferenceFace.content_hash == digest)
        )
        if found is None:
            session.add(ReferenceFace(content_hash=digest, storage_key=key, session_id=session_id))
    return key


def digest_of(key: str) -> str:
    return key.rsplit("/", 1)[1].split(".")[0]
