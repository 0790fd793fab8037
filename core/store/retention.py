"""Privacy: reference photos expire, and a session owner can erase everything of theirs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from core.store.db import Database
from core.store.media import MediaStore
from core.store.models import Job, Portrait, ReferenceFace


async def purge_references(db: Database, media: MediaStore, days: int) -> int:
    """Delete reference photos (files, analysis and embeddings) older than `days` days."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with db.session() as session:
        old = (
            await session.scalars(select(ReferenceFace).where(ReferenceFace.created_at < cutoff))
        ).all()
        for row in old:
            await media.delete(row.storage_key)
            await session.delete(row)
    return len(old)


async def erase_session(
    db: Database, media: MediaStore, session_id: uuid.UUID, user_id: uuid.UUID | None = None
) -> int:
    """Every portrait, job and reference photo of a guest session (or account), in one go."""
    owner = Portrait.session_id == session_id
    if user_id is not None:
        owner = owner | (Portrait.user_id == user_id)
    async with db.session() as session:
        portraits = (await session.scalars(select(Portrait).where(owner))).all()
        for portrait in portraits:
            await media.delete(f"portraits/{portrait.id}")
        ids = [p.id for p in portraits]
        if ids:
            await session.execute(delete(Job).where(Job.id.in_(ids)))
            await session.execute(delete(Portrait).where(Portrait.id.in_(ids)))
        faces = (
            await session.scalars(
                select(ReferenceFace).where(ReferenceFace.session_id == session_id)
            )
        ).all()
        for face in faces:
            await media.delete(face.storage_key)
            await session.delete(face)
    return len(ids)
