"""The one owner of a job's state. Every transition is one database transaction that checks
where the job is, moves it, mirrors the portrait's status and settles the token:

    queued ──claim──▶ running ──finish──▶ done
      ▲                 │  ├──fail──▶ failed (refunded)
      └───release───────┘  └──release, out of retries──▶ failed (refunded)
    queued | running ──cancel──▶ cancelled (refunded)

Each transition starts with a conditional UPDATE, so of two actors racing for one job exactly
one wins, and only the winner of a move into a terminal state announces it (`terminal_event`).

The lease. A running job holds a lease: a token and an expiry. Only the token's holder may
renew, finish, fail or release it.
- Whose clock: every time that hosts compare (the expiry, started, finished, updated, and a
  job's and portrait's created/updated from the submit on, core/jobs/queue.py) is written and
  compared by the database, in SQL (`db_time`: PostgreSQL's now(), SQLite's own clock), never
  taken from a host's clock, which drifts and jumps (a spot host's first NTP sync). A host's
  monotonic clock measures only its own durations: how long since its attempt last heard
  the database confirm its lease.
- Who renews, how often: the attempt, from its own task on the worker's event loop (not the
  painting thread), every RENEW_EVERY of the lease `lease_s`; each renewal sets the expiry to
  the database's now + lease_s.
- Margin: a lease expires only when the database's clock passes its expiry, i.e. no renewal
  landed for a whole lease: at least two renewals in a row were missed (EXPIRY_MISSES).
- What a reaper may take, and when: a running job whose lease expired, which no attempt of
  the reaper's own process is painting, once that process has seen the database answer for a
  full lease (after a database outage the live attempts renew first). It takes it with a
  conditional UPDATE that checks the expiry again, so a renewal landing meanwhile wins.
- What a holder may do: paint while its lease is not known to be lost (a database outage is
  ridden out: nobody can take the job without the database either), but write nothing unless
  the database confirmed the lease within the last renewal period (core/jobs/run.py). A
  process that stalled (SIGSTOP, a frozen VM) asks the database before its next step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.jobs.events import JobEvent
from core.store.accounts import refund_token
from core.store.clock import db_time
from core.store.db import Database
from core.store.models import Job, Portrait

RETRIES = 3  # failed attempts (a dead worker, an error) before a job is given up and refunded
TERMINAL = ("done", "failed", "cancelled")
GAVE_UP = "something went wrong on our side; please try again"  # the details are in the log
RENEW_EVERY = 1 / 3  # of the lease: an attempt renews three times per lease
EXPIRY_MISSES = round(1 / RENEW_EVERY) - 1  # renewals in a row missed before a lease expires


@dataclass(frozen=True)
class Claim:
    """What the attempt that won a job holds: its number, its lease token and the spec."""

    attempt: int
    token: str
    spec: dict[str, Any]


async def claim(db: Database, job_id: uuid.UUID, worker: str, lease_s: float) -> Claim | None:
    """Take a queued job; None when it is not queued (running elsewhere, finished, unknown)."""
    token = str(uuid.uuid4())
    async with db.session() as session:
        row = (
            await session.execute(
                _update(job_id, Job.status == "queued")
                .values(
                    status="running",
                    worker=worker,
                    attempts=Job.attempts + 1,
                    lease_token=token,
                    lease_expires_at=db_time(lease_s),
                    started_at=db_time(),
                )
                .returning(Job.attempts, Job.spec)
            )
        ).first()
        if row is None:
            return None
        await _mirror(session, job_id, "running")
    return Claim(row.attempts, token, row.spec)


async def renew(db: Database, job_id: uuid.UUID, token: str, lease_s: float) -> bool:
    """Extend the lease; False when it is no longer ours (cancelled, expired, handed on)."""
    async with db.session() as session:
        result = await session.execute(
            _update(job_id, *_held(token)).values(lease_expires_at=db_time(lease_s))
        )
        return result.rowcount == 1


async def finish(db: Database, job_id: uuid.UUID, token: str, result: dict) -> bool:
    """Mark the job done with its outputs, if this attempt still holds it."""
    async with db.session() as session:
        moved = await session.execute(
            _update(job_id, *_held(token)).values(
                status="done",
                error=None,
                finished_at=db_time(),
                timings=result["seconds"],
                lease_token=None,
                lease_expires_at=None,
            )
        )
        if moved.rowcount != 1:
            return False
        likeness = result.get("likeness") or {}
        composition = result["params"]["composition"]
        await session.execute(
            update(Portrait)
            .where(Portrait.id == job_id)
            .values(
                status="done",
                media=result["keys"],
                width=result["size"][0],
                height=result["size"][1],
                thumbhash=result["thumbhash"],
                parameters=result["params"],
                prompt=composition["prompt"],
                seed=composition["seed"],
                likeness=likeness.get("score"),
                likeness_analyzer=likeness.get("analyzer"),
                prompt_score=likeness.get("prompt_score"),
                updated_at=db_time(),  # not the ORM's audit stamp: that is this host's clock
            )
            .execution_options(synchronize_session=False)
        )
    return True


async def fail(db: Database, job_id: uuid.UUID, token: str, reason: str) -> bool:
    """Fail the job for good (the user's input cannot work) and refund, if still ours."""
    async with db.session() as session:
        return await _give_up(session, job_id, reason, *_held(token))


async def release(
    db: Database, job_id: uuid.UUID, why: str, *, token: str | None, failure: bool
) -> str | None:
    """Put a running job back in the queue: by its attempt (`token`), or by the reaper once
    its lease has expired (`token=None`). A failure counts towards RETRIES; the last one
    fails the job and refunds. Returns "queued", "failed", or None when it was not ours."""
    guard = _held(token) if token else _lapsed()
    async with db.session() as session:
        row = (
            await session.execute(
                _update(job_id, *guard)
                .values(
                    status="queued",
                    error=why,
                    failures=Job.failures + int(failure),
                    lease_token=None,
                    lease_expires_at=None,
                )
                .returning(Job.failures)
            )
        ).first()
        if row is None:
            return None
        if row.failures >= RETRIES:
            await _give_up(session, job_id, GAVE_UP, Job.status == "queued")
            return "failed"
        await _mirror(session, job_id, "queued")
    return "queued"


async def cancel(db: Database, job_id: uuid.UUID) -> bool:
    """Cancel a queued or running job and refund; False when it had finished already. A
    running attempt sees its lease gone at its next renewal and stores nothing."""
    async with db.session() as session:
        moved = await session.execute(
            _update(job_id, Job.status.in_(("queued", "running")))
            .values(
                status="cancelled", finished_at=db_time(), lease_token=None, lease_expires_at=None
            )
            .returning(Job.token_spent, Job.session_id)
        )
        row = moved.first()
        if row is None:
            return False
        await _mirror(session, job_id, "cancelled")
        await _refund(session, job_id, row.token_spent, row.session_id)
    return True


async def terminal_event(db: Database, job_id: uuid.UUID) -> JobEvent | None:
    """The terminal event of a finished job, built from its row (None while unfinished)."""
    async with db.session() as session:
        job = await session.get(Job, job_id)
        portrait = await session.get(Portrait, job_id)
    if job is None or job.status not in TERMINAL:
        return None
    fields: dict[str, Any] = {"job_id": str(job_id), "type": job.status, "attempt": job.attempts}
    if job.status == "done":
        fields["result"] = {k: str(v) for k, v in (portrait.media if portrait else {}).items()}
    elif job.status == "failed":
        fields["reason"] = job.error
    return JobEvent(**fields)


async def expired(db: Database) -> list[tuple[uuid.UUID, str | None]]:
    """Running jobs whose lease ran out by the database's clock, with the worker that held
    each: their worker is gone, unless it is the caller's own process and still painting."""
    # FOR UPDATE (PostgreSQL): a database that refuses writes refuses it too, so a reaper
    # with nothing to release still learns that its releases would fail
    query = select(Job.id, Job.worker).where(*_lapsed()).with_for_update(skip_locked=True)
    async with db.session() as session:
        return [(job_id, worker) for job_id, worker in await session.execute(query)]


async def waiting(db: Database, for_s: float) -> list[uuid.UUID]:
    """Queued jobs untouched for `for_s` seconds: each should be on the queue by now."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Job.id).where(Job.status == "queued", Job.updated_at < db_time(-for_s))
        )
        return list(rows)


async def finished_within(db: Database, window_s: float, settle_s: float) -> list[uuid.UUID]:
    """Jobs finished in the last `window_s` seconds and at least `settle_s` ago (their
    announcer had time)."""
    async with db.session() as session:
        rows = await session.scalars(
            select(Job.id).where(
                Job.status.in_(TERMINAL),
                Job.finished_at >= db_time(-window_s),
                Job.finished_at < db_time(-settle_s),
            )
        )
        return list(rows)


def _update(job_id: uuid.UUID, *conditions: ColumnElement[bool]):
    return (
        update(Job)
        .where(and_(Job.id == job_id, *conditions))
        .values(updated_at=db_time())  # the reaper compares it with the database's clock
        .execution_options(synchronize_session=False)
    )


def _lapsed() -> tuple[ColumnElement[bool], ...]:
    return (Job.status == "running", Job.lease_expires_at < db_time())


def _held(token: str) -> tuple[ColumnElement[bool], ...]:
    return (Job.status == "running", Job.lease_token == token)


async def _give_up(
    session: AsyncSession, job_id: uuid.UUID, reason: str, *guard: ColumnElement[bool]
) -> bool:
    moved = await session.execute(
        _update(job_id, *guard)
        .values(status="failed", error=reason, finished_at=db_time(), lease_token=None)
        .returning(Job.token_spent, Job.session_id)
    )
    row = moved.first()
    if row is None:
        return False
    await _mirror(session, job_id, "failed")
    await _refund(session, job_id, row.token_spent, row.session_id)
    return True


async def _mirror(session: AsyncSession, job_id: uuid.UUID, status: str) -> None:
    await session.execute(
        update(Portrait)
        .where(Portrait.id == job_id)
        .values(status=status, updated_at=db_time())
        .execution_options(synchronize_session=False)
    )


async def _refund(
    session: AsyncSession, job_id: uuid.UUID, spent: bool, guest_id: uuid.UUID | None
) -> None:
    if not spent:
        return
    user_id = await session.scalar(select(Portrait.user_id).where(Portrait.id == job_id))
    await refund_token(session, guest_id, user_id)
    await session.execute(_update(job_id).values(token_spent=False))
