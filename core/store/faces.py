"""Named face sets: an operator's reference photos for one person, saved once and used by
name (the original system's face folders). The photos are kept under their own media prefix,
so the reference-photo retention purge (visitors' uploads) leaves them alone."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import JsonB
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import UserInputError
from core.photos import load_photo
from core.store.db import Database
from core.store.media import MediaStore, content_key
from core.store.references import clean_png

PREFIX = "facesets"
MAX_PHOTOS = 4  # PhotoMaker takes up to four references


class FaceSet(UUIDv7AuditBase):
    __tablename__ = "face_set"

    name: Mapped[str] = mapped_column(String(40), unique=True)
    photos: Mapped[list[Any]] = mapped_column(JsonB, default=list)  # media keys
    owner: Mapped[str | None] = mapped_column(String(80))


def clean_name(name: str) -> str:
    name = name.strip().lower()
    if not 1 <= len(name) <= 40 or "," in name:
        raise UserInputError("a face set needs a name of 1 to 40 characters, without commas")
    return name


async def save_face_set(
    db: Database, media: MediaStore, name: str, photos: list[tuple[str, bytes]], owner: str
) -> int:
    """Store the photos (checked, metadata stripped) and the set; a set of that name is
    replaced. Returns how many photos it holds."""
    name = clean_name(name)
    if not 1 <= len(photos) <= MAX_PHOTOS:
        raise UserInputError(f"a face set holds 1 to {MAX_PHOTOS} photos, not {len(photos)}")
    keys = []
    for filename, data in photos:
        png = clean_png(load_photo(data, filename))
        key = content_key(PREFIX, png, "png")
        await media.put(key, png, "image/png")
        keys.append(key)
    async with db.session() as session:
        row = await session.scalar(select(FaceSet).where(FaceSet.name == name))
        if row is None:
            session.add(FaceSet(name=name, photos=keys, owner=owner))
        else:
            row.photos, row.owner = keys, owner
    return len(keys)


async def face_set_photos(db: Database, media: MediaStore, name: str) -> list[bytes]:
    name = clean_name(name)
    async with db.session() as session:
        row = await session.scalar(select(FaceSet).where(FaceSet.name == name))
    if row is None:
        raise UserInputError(f"no face set named {name!r} (save one with /faces save)")
    return [await media.get(key) for key in row.photos]


async def face_set_names(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(FaceSet.name).order_by(FaceSet.name))).all())
