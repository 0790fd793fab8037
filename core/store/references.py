"""Reference photos: validated, stored without metadata, one copy per uploader.

A visitor's photo lives under a key that names them (`faces/<guest id>/<hash>.png`), so
erasing one visitor's photos never touches a file another visitor's job still needs.
Operators' photos (no guest) keep the shared content key. The face analysis is cached by
content hash (see core/jobs/run.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from sqlalchemy.dialects import postgresql, sqlite

from core.photos import clean_png, load_photo
from core.store.db import Database
from core.store.media import MediaStore, content_key
from core.store.models import ReferenceFace

PREFIX = "faces"


def owner_prefix(session_id: uuid.UUID) -> str:
    return f"{PREFIX}/{session_id}"


async def store_reference(
    db: Database, media: MediaStore, data: bytes, name: str, session_id: uuid.UUID | None = None
) -> str:
    """Validate an uploaded photo and store it without metadata; returns its media key."""
    png = await asyncio.to_thread(lambda: clean_png(load_photo(data, name)))
    return await store_clean_reference(db, media, png, session_id)


async def store_clean_reference(
    db: Database, media: MediaStore, png: bytes, session_id: uuid.UUID | None = None
) -> str:
    """Store an already cleaned PNG. The same picture from the same uploader is stored once,
    even when their uploads race (an insert that finds the row there does nothing)."""
    if session_id is None:
        key = content_key(PREFIX, png, "png")
    else:
        digest = await asyncio.to_thread(
            lambda: hashlib.sha256(png).hexdigest()
        )  # MBs: off the loop
        key = f"{owner_prefix(session_id)}/{digest}.png"
    await media.put(key, png, "image/png")
    values = {
        "content_hash": digest_of(key),
        "storage_key": key,
        "session_id": session_id,
    }
    dialect = postgresql if not db.is_sqlite else sqlite
    statement = dialect.insert(ReferenceFace).values(**values).on_conflict_do_nothing()
    async with db.session() as session:
        await session.execute(statement)
    return key


def digest_of(key: str) -> str:
    return key.rsplit("/", 1)[1].split(".")[0]
