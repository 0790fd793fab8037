"""The one submit API for the site, the bot and the workbench.

`submit_portrait` is all or nothing: the job and portrait rows and the token are written in
one transaction, and the job is put on SAQ inside it, so a queue that does not answer rolls
everything back and the caller gets `QueueBusy`, a CapacityError (nothing charged). The id is the
submitter's: a retried submit of the same id does nothing twice, even two at once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.errors import CapacityError, QueueBusy, UserInputError
from core.jobs import lifecycle
from core.jobs.events import JobEvent, event_keys, follow, publish
from core.jobs.fetch import FetchQueue
from core.jobs.outage import BUSY, is_transient, make_redis
from core.jobs.spec import PortraitSpec
from core.store.accounts import consume_token
from core.store.db import Database
from core.store.models import Job, Portrait

QUEUE_NAME = "narcis"
log = logging.getLogger("narcis.queue")


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    attempts: int
    error: str | None  # the last attempt's error while retrying (internal); the reason once failed
    media: dict

    @property
    def reason(self) -> str | None:
        """Why the job failed, in words for the person (only a failed job's error is that)."""
        return self.error if self.status == "failed" else None


class JobQueue:
    def __init__(self, redis_url: str, db: Database) -> None:
        self.db = db
        self.redis = make_redis(redis_url)
        self.saq = FetchQueue(make_redis(redis_url), name=QUEUE_NAME)

    async def close(self) -> None:
        try:
            await self.saq.disconnect()
        except Exception as exc:
            if not is_transient(exc):
                raise
            await self.saq.redis.aclose()  # Redis is away: only our side is left to close
        await self.redis.aclose()

    async def submit_portrait(self, spec: PortraitSpec) -> str:
        try:
            new = await self._record_and_enqueue(spec)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("submit of %s refused: %s", spec.job_id, exc.__class__.__name__)
            raise QueueBusy(BUSY) from None
        if new:
            await self._say(JobEvent(job_id=spec.job_id, type="queued"))
        return spec.job_id

    async def _record_and_enqueue(self, spec: PortraitSpec) -> bool:
        """True when this call created the job."""
        job_id = uuid.UUID(spec.job_id)
        try:
            async with self.db.session() as session:
                status = await session.scalar(select(Job.status).where(Job.id == job_id))
                if status is None:
                    await self._charge(session, spec)
                    session.add_all(_rows(job_id, spec))
                    await session.flush()  # the id is ours before the queue hears of it
                if status in (None, "queued"):
                    await self.enqueue(spec.job_id)  # if Redis refuses, nothing is committed
        except IntegrityError:
            if await self._status(job_id) is None:
                raise
            return False  # the same id submitted twice at once: the other submit recorded it
        return status is None

    async def _charge(self, session, spec: PortraitSpec) -> None:
        if spec.session_id is None and spec.user_id is None:
            return  # operators' jobs (bot, workbench) cost nothing
        if not await consume_token(session, _uuid(spec.session_id), _uuid(spec.user_id)):
            raise CapacityError("no tokens left: each portrait costs one token")

    async def enqueue(self, job_id: str) -> None:
        """Put the job on SAQ; a job already there (same key) is left alone. Liveness and time
        limits are the worker's (its lease), so SAQ's own heartbeat and timeout are off."""
        await self.saq.enqueue(
            "run_portrait", key=job_id, job_id=job_id, retries=1, timeout=0, heartbeat=0
        )

    async def announce(self, job_id: uuid.UUID) -> None:
        """Publish a finished job's terminal event (the log takes only one per job)."""
        try:
            event = await lifecycle.terminal_event(self.db, job_id)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("could not announce %s now; the reaper will", job_id)
            return
        if event is not None:
            await self._say(event)

    async def _say(self, event: JobEvent) -> None:
        try:
            await publish(self.redis, event)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("could not publish %s for %s now", event.type, event.job_id)

    async def write_prompt(
        self, idea: str, style: str = "none", seed: int = 0, timeout: float = 120
    ) -> dict:
        """Ask a worker to run the prompt agent; its reply, or {"error": reason}."""
        try:
            reply = await self.saq.apply(
                "write_prompt", idea=idea, style=style, seed=seed, timeout=timeout
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise QueueBusy(BUSY) from None
        if reply is None:
            raise CapacityError("no worker answered in time; try again shortly")
        return reply

    async def status(self, job_id: str) -> JobStatus:
        async with self.db.session() as session:
            job = await session.get(Job, _uuid(job_id))
            portrait = await session.get(Portrait, _uuid(job_id))
        if job is None or portrait is None:
            raise UserInputError(f"no job {job_id}")
        return JobStatus(job_id, job.status, job.attempts, job.error, dict(portrait.media))

    async def _status(self, job_id: uuid.UUID) -> str | None:
        async with self.db.session() as session:
            return await session.scalar(select(Job.status).where(Job.id == job_id))

    async def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job; its token is refunded. False if it had finished.
        A running attempt notices at its next lease renewal and stores nothing; a queued one
        is skipped by the worker that fetches it."""
        try:
            cancelled = await lifecycle.cancel(self.db, _uuid(job_id))
        except Exception as exc:
            if not is_transient(exc):
                raise
            raise QueueBusy(BUSY) from None
        if cancelled:
            await self.announce(_uuid(job_id))
        return cancelled

    def events(self, job_id: str, timeout: float | None = None) -> AsyncIterator[JobEvent]:
        return follow(self.redis, job_id, timeout)

    async def forget(self, job_ids: list[str]) -> None:
        """Every trace of these (ended) jobs in Redis: their event logs and SAQ's records,
        also where SAQ lists them (for erasing a person's data)."""
        saq = self.saq
        records = [saq.job_id(j) for j in job_ids]  # "saq:job:<queue>:<key>"
        if not records:
            return
        async with saq.redis.pipeline(transaction=True) as pipe:
            for record in records:
                pipe.lrem(saq.namespace("queued"), 0, record)
                pipe.lrem(saq.namespace("active"), 0, record)
                pipe.zrem(saq.namespace("incomplete"), record)
                pipe.zrem(saq.namespace("schedule"), record)
            pipe.delete(*records, *(k for j in job_ids for k in event_keys(j)))
            await pipe.execute()


def _rows(job_id: uuid.UUID, spec: PortraitSpec) -> list:
    return [
        Job(
            id=job_id,
            spec=spec.model_dump(mode="json"),
            session_id=_uuid(spec.session_id),
            token_spent=bool(spec.session_id or spec.user_id),
        ),
        Portrait(
            id=job_id,
            idea=spec.idea,
            origin=spec.origin,
            session_id=_uuid(spec.session_id),
            user_id=_uuid(spec.user_id),
            seed=spec.seed,
            prompt=spec.params.composition.prompt if spec.params else "",
        ),
    ]


def _uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UserInputError(f"{value!r} is not a valid id") from None
