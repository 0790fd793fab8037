"""Privacy: reference photos expire, and a person can erase everything of theirs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from core.store.db import Database
from core.store.media import MediaStore
from core.store.models import Job, Portrait, ReferenceFace
from core.store.references import owner_prefix

FINISHED = frozenset({"done", "failed", "cancelled"})


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


@dataclass(frozen=True)
class Erased:
    job_ids: list[str]
    photos: int


async def erase_person(
    db: Database,
    media: MediaStore,
    guest_ids: list[uuid.UUID],
    user_id: uuid.UUID | None,
    cancel: Callable[[str], Awaitable[object]],
    forget: Callable[[list[str]], Awaitable[object]],
) -> Erased:
    """Every portrait, job, reference photo and derivative of a person: their guest sessions
    and their account alike, wherever they uploaded from. The rows go last: while they stand,
    an erase that stopped half-way (an outage, a crash) is finished by the next one.

    1. Cancel their unfinished jobs (`cancel` refunds the token and stops the worker).
    2. Forget the jobs in the caches (`forget`: event logs and queue records).
    3. Delete the files: portraits with every derivative, and each guest's photo folder.
    4. Delete the rows: portraits, jobs, reference photos with their face analysis.
    """
    owner = Portrait.session_id.in_(guest_ids)
    if user_id is not None:
        owner = owner | (Portrait.user_id == user_id)
    async with db.session() as session:
        portraits = (await session.scalars(select(Portrait).where(owner))).all()
        jobs = (await session.scalars(select(Job.id).where(Job.session_id.in_(guest_ids)))).all()
    ids = [p.id for p in portraits]
    job_ids = [str(i) for i in sorted({*ids, *jobs})]
    # 1. Cancel what is still queued or running
    for portrait in portraits:
        if portrait.status not in FINISHED:
            await cancel(str(portrait.id))
    # 2. Caches
    await forget(job_ids)
    # 3. Files
    for portrait_id in ids:
        await media.delete(f"portraits/{portrait_id}")
    for guest in guest_ids:
        await media.delete(owner_prefix(guest))
    # 4. Rows
    photo_rows = ReferenceFace.session_id.in_(guest_ids)
    for guest in guest_ids:
        photo_rows = photo_rows | ReferenceFace.storage_key.startswith(f"{owner_prefix(guest)}/")
    async with db.session() as session:
        await session.execute(delete(Job).where(Job.id.in_(ids) | Job.session_id.in_(guest_ids)))
        await session.execute(delete(Portrait).where(Portrait.id.in_(ids)))
        photos = (await session.execute(delete(ReferenceFace).where(photo_rows))).rowcount
    return Erased(job_ids, photos)
