"""The workbench's run history: every stage-1, stage-2 and sweep-cell run, kept with every
control's value, its seed, likeness, timings, face set and idea. Thumbnails live in the media
store under `benchruns/<run id>/`, never in the row.

A run names its face set by foreign key, so no run can outlive the set it was painted from:
`erase_face_set` deletes the runs (files, then rows) and the set together, and a run recorded
for a set that is gone is refused (its files removed again).
"""

from __future__ import annotations

import asyncio
import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.mixins.uuid import uuid7
from advanced_alchemy.types import JsonB
from PIL import Image
from sqlalchemy import BigInteger, Float, ForeignKey, Index, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.errors import UserInputError
from core.store.db import Database
from core.store.faces import FaceSet, clean_name
from core.store.media import MediaNotFound, MediaStore

PREFIX = "benchruns"
KINDS = ("stage1", "stage2", "cell")
THUMB_SIDE = 384  # big enough to compare two runs side by side, small enough to list 60
KEEP_PER_OPERATOR = 5000  # the bound on what one operator's runs can make us keep
NO_FACE_SET = ""  # the filter for runs painted from uploaded photos, not a saved set


class WorkbenchRun(UUIDv7AuditBase):
    __tablename__ = "workbench_run"
    __table_args__ = (Index("ix_workbench_run_created_at", "created_at"),)  # newest first

    kind: Mapped[str] = mapped_column(String(8), index=True)  # stage1, stage2, cell
    operator: Mapped[str] = mapped_column(String(80), index=True)
    face_set_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("face_set.id"), index=True)
    idea: Mapped[str | None] = mapped_column(String(60), index=True)
    label: Mapped[str | None] = mapped_column(String(200))  # a sweep cell's axis values
    controls: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # widget path → value
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    likeness: Mapped[float | None] = mapped_column(Float)
    likeness_analyzer: Mapped[str | None] = mapped_column(String(16))
    timings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # seconds by part
    thumbnails: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)  # name → media key


@dataclass(frozen=True)
class NewRun:
    """A run to keep. `images` are full size; only thumbnails of them are stored."""

    kind: str
    operator: str
    controls: dict[str, Any]
    seed: int
    images: dict[str, Image.Image] = field(default_factory=dict)
    face_set: str | None = None
    idea: str | None = None
    label: str | None = None
    likeness: float | None = None
    likeness_analyzer: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class KeptRun:
    """A run as the history shows it (immutable: safe to hand to any thread)."""

    id: uuid.UUID
    kind: str
    created_at: datetime
    operator: str
    face_set: str | None
    idea: str | None
    label: str | None
    controls: dict[str, Any]
    seed: int
    likeness: float | None
    likeness_analyzer: str | None
    timings: dict[str, Any]
    thumbnails: dict[str, str]


@dataclass(frozen=True)
class RunFilter:
    face_set: str | None = None  # None: any; NO_FACE_SET: uploaded photos only
    idea: str | None = None  # a part of the idea, any case
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 60


def thumbnail_png(image: Image.Image) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


async def record_run(db: Database, media: MediaStore, run: NewRun) -> KeptRun:
    """Keep one run: thumbnails first, then the row that names them. Safe to call from many
    tasks at once (each is one insert; the prune after it is idempotent)."""
    # 1. Check inputs
    if run.kind not in KINDS:
        raise UserInputError(f"run kind {run.kind!r}: one of {', '.join(KINDS)}")
    face_set = clean_name(run.face_set) if run.face_set else None
    run_id = uuid7()
    # 2. Store the thumbnails
    keys = {}
    for name, image in run.images.items():
        key = f"{PREFIX}/{run_id}/{name}.png"
        await media.put(key, await asyncio.to_thread(thumbnail_png, image), "image/png")
        keys[name] = key
    # 3. Insert the row (its face set must still exist: the foreign key sees to it)
    try:
        kept = await _insert(db, run, run_id, face_set, keys)
    except Exception as exc:  # no row names them: the thumbnails go (then the error goes on)
        await media.delete(f"{PREFIX}/{run_id}")
        if isinstance(exc, IntegrityError | UserInputError):
            raise UserInputError(
                f"face set {face_set!r} was erased while this run painted: the run is not kept"
            ) from None
        raise
    # 4. Keep the history bounded
    await prune(db, media, run.operator, KEEP_PER_OPERATOR)
    return kept  # as inserted: an erase may delete the row any moment after


async def _insert(
    db: Database, run: NewRun, run_id: uuid.UUID, face_set: str | None, keys: dict[str, str]
) -> KeptRun:
    async with db.session() as session:
        set_id = None
        if face_set is not None:
            set_id = await session.scalar(select(FaceSet.id).where(FaceSet.name == face_set))
            if set_id is None:
                raise UserInputError(face_set)
        row = WorkbenchRun(
            id=run_id,
            kind=run.kind,
            operator=run.operator[:80],
            face_set_id=set_id,
            idea=(run.idea or None) and run.idea[:60],
            label=run.label and run.label[:200],
            controls=run.controls,
            seed=run.seed,
            likeness=run.likeness,
            likeness_analyzer=run.likeness_analyzer,
            timings=run.timings,
            thumbnails=keys,
        )
        session.add(row)
        await session.flush()  # sets the created time
        return _kept(row, face_set)


def _query():
    return select(WorkbenchRun, FaceSet.name).outerjoin(
        FaceSet, WorkbenchRun.face_set_id == FaceSet.id
    )


def _kept(row: WorkbenchRun, face_set: str | None) -> KeptRun:
    return KeptRun(
        id=row.id,
        kind=row.kind,
        created_at=row.created_at,
        operator=row.operator,
        face_set=face_set,
        idea=row.idea,
        label=row.label,
        controls=dict(row.controls),
        seed=row.seed,
        likeness=row.likeness,
        likeness_analyzer=row.likeness_analyzer,
        timings=dict(row.timings),
        thumbnails=dict(row.thumbnails),
    )


async def list_runs(db: Database, where: RunFilter | None = None) -> list[KeptRun]:
    """Newest first (UUIDv7 ids break ties between runs of one instant)."""
    where, query = where or RunFilter(), _query()
    if where.face_set == NO_FACE_SET:
        query = query.where(WorkbenchRun.face_set_id.is_(None))
    elif where.face_set is not None:
        query = query.where(FaceSet.name == clean_name(where.face_set))
    if where.idea:
        query = query.where(func.lower(WorkbenchRun.idea).contains(where.idea.strip().lower()))
    if where.since is not None:
        query = query.where(WorkbenchRun.created_at >= where.since)
    if where.until is not None:
        query = query.where(WorkbenchRun.created_at < where.until)
    query = query.order_by(WorkbenchRun.created_at.desc(), WorkbenchRun.id.desc())
    async with db.session() as session:
        rows = (await session.execute(query.limit(max(1, min(where.limit, 500))))).all()
    return [_kept(row, name) for row, name in rows]


async def get_run(db: Database, run_id: uuid.UUID | str) -> KeptRun:
    try:
        wanted = run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))
    except ValueError:
        raise UserInputError(f"no run {run_id!r} in the history") from None
    async with db.session() as session:
        found = (await session.execute(_query().where(WorkbenchRun.id == wanted))).first()
    if found is None:
        raise UserInputError(f"no run {run_id} in the history (erased?)")
    return _kept(*found)


async def run_thumbnail(media: MediaStore, run: KeptRun, name: str) -> bytes | None:
    """A thumbnail's bytes, or None when its file is gone (deleted by hand, a lost disk)."""
    key = run.thumbnails.get(name)
    if key is None:
        return None
    try:
        return await media.get(key)
    except MediaNotFound:
        return None


async def prune(db: Database, media: MediaStore, operator: str, keep: int) -> int:
    """Drop an operator's oldest runs beyond `keep` (files, then rows)."""
    async with db.session() as session:
        old = (
            await session.scalars(
                select(WorkbenchRun.id)
                .where(WorkbenchRun.operator == operator[:80])
                .order_by(WorkbenchRun.created_at.desc(), WorkbenchRun.id.desc())
                .offset(keep)
            )
        ).all()
    await _erase_runs(db, media, list(old))
    return len(old)


async def _erase_runs(db: Database, media: MediaStore, ids: list[uuid.UUID]) -> None:
    for run_id in ids:
        await media.delete(f"{PREFIX}/{run_id}")
    if ids:
        async with db.session() as session:
            await session.execute(delete(WorkbenchRun).where(WorkbenchRun.id.in_(ids)))


async def erase_face_set(db: Database, media: MediaStore, name: str) -> int:
    """The set, its photos and every run painted from it; returns how many runs went.

    1. Delete the runs' thumbnails (rows still stand: a half-done erase is finished by the
       next one).
    2. Delete the runs' rows and the set's row in one transaction. A run recorded between 1
       and 2 is deleted here too; its files go in 3.
    3. Delete what 2 found that 1 did not, and the set's photos no other set holds.
    """
    name = clean_name(name)
    async with db.session() as session:
        row = await session.scalar(select(FaceSet).where(FaceSet.name == name))
        if row is None:
            raise UserInputError(f"no face set named {name!r}")
        set_id, photos = row.id, list(row.photos)
        first = set(await _run_ids(session, set_id))
    # 1. Thumbnails
    for run_id in first:
        await media.delete(f"{PREFIX}/{run_id}")
    # 2. Rows
    every, others = await _delete_rows(db, set_id)
    # 3. Late runs' files, and photos only this set held (keys are by content: shareable)
    for run_id in every - first:
        await media.delete(f"{PREFIX}/{run_id}")
    still_used = {key for keys in others for key in keys}
    for key in photos:
        if key not in still_used:
            await media.delete(key)
    return len(every)


async def _delete_rows(db: Database, set_id: uuid.UUID) -> tuple[set[uuid.UUID], list]:
    """Delete the set's runs and the set; returns the runs' ids and every other set's photos."""
    every: set[uuid.UUID] = set()
    for attempt in range(3):
        try:
            async with db.session() as session:
                # RETURNING: exactly the rows deleted, even one committed a moment ago
                gone = delete(WorkbenchRun).where(WorkbenchRun.face_set_id == set_id)
                every = set((await session.scalars(gone.returning(WorkbenchRun.id))).all())
                await session.execute(delete(FaceSet).where(FaceSet.id == set_id))
                others = list((await session.scalars(select(FaceSet.photos))).all())
            return every, others
        except IntegrityError:  # a run committed between the two deletes: go again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _run_ids(session, set_id: uuid.UUID) -> list[uuid.UUID]:
    query = select(WorkbenchRun.id).where(WorkbenchRun.face_set_id == set_id)
    return list((await session.scalars(query)).all())
