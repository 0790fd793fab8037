"""Database entities. UUIDv7 keys everywhere: sortable by creation, safe to assign client-side."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from advanced_alchemy.base import UUIDv7AuditBase
from advanced_alchemy.types import DateTimeUTC, JsonB
from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

GUEST_TOKENS = 5
GUEST_LIFETIME = timedelta(days=7)


def _guest_expiry() -> datetime:
    return datetime.now(UTC) + GUEST_LIFETIME


class UserAccount(UUIDv7AuditBase):
    __tablename__ = "user_account"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="user")  # user, operator, admin
    tokens: Mapped[int] = mapped_column(Integer, default=0)


class GuestSession(UUIDv7AuditBase):
    __tablename__ = "guest_session"

    tokens: Mapped[int] = mapped_column(Integer, default=GUEST_TOKENS)
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_guest_expiry)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"), index=True)


class Portrait(UUIDv7AuditBase):
    """One picture; its id is the id of the job that makes it."""

    __tablename__ = "portrait"
    # The wall's one query (site/photowall/wall.py): equalities on the first three, then the
    # keyset cursor and the order on id, so a page reads PAGE_SIZE + 1 index entries.
    __table_args__ = (Index("ix_portrait_wall", "curated", "hidden", "status", "id"),)

    idea: Mapped[str | None] = mapped_column(String(60))
    prompt: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    seed: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    media: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbhash: Mapped[str | None] = mapped_column(String(64))
    origin: Mapped[str] = mapped_column(String(16), default="web")  # web, bot, workbench
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guest_session.id"), index=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    curated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # The owner said "share on the wall"; never set for a restyle of their own photo.
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    saved: Mapped[bool] = mapped_column(Boolean, default=False)
    saved_from_message: Mapped[str | None] = mapped_column(String(64))
    # How recognisable the person is (core/diffusion/likeness.py): cosine similarity to the
    # references, from the analyser named beside it; CLIP's prompt adherence where measured.
    likeness: Mapped[float | None] = mapped_column(Float)
    likeness_analyzer: Mapped[str | None] = mapped_column(String(16))
    prompt_score: Mapped[float | None] = mapped_column(Float)


class Job(UUIDv7AuditBase):
    """A job's state, owned by core/jobs/lifecycle.py: every change is one transaction there."""

    __tablename__ = "job"

    kind: Mapped[str] = mapped_column(String(32), default="portrait")
    spec: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # the number of the latest attempt
    failures: Mapped[int] = mapped_column(Integer, default=0)  # attempts that died or raised
    # The running attempt's lease: only the holder of the token may store outputs, and a lease
    # not renewed by its expiry is taken to belong to a dead worker.
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(120))
    timings: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guest_session.id"))
    token_spent: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True))


class ReferenceFace(UUIDv7AuditBase):
    """A reference photo of one uploader (its key names them), with its face analysis cached."""

    __tablename__ = "reference_face"

    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    analyzer: Mapped[str | None] = mapped_column(String(32))
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JsonB)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guest_session.id"))


class ParameterPreset(UUIDv7AuditBase):
    """Named parameter sets, shared by the workbench and the bot."""

    __tablename__ = "parameter_preset"

    name: Mapped[str] = mapped_column(String(80), unique=True)
    parameters: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    owner: Mapped[str | None] = mapped_column(String(80))


class Sweep(UUIDv7AuditBase):
    __tablename__ = "sweep"

    config: Mapped[dict[str, Any]] = mapped_column(JsonB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    job_ids: Mapped[list[str]] = mapped_column(JsonB, default=list)
    grid_key: Mapped[str | None] = mapped_column(String(200))
    owner: Mapped[str | None] = mapped_column(String(80))
