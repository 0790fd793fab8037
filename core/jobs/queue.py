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

from saq.job import ABORT_ID_PREFIX
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.errors import CapacityError, QueueBusy, UserInputError
from core.jobs import lifecycle
from core.jobs.events import LOG_TTL, JobEvent, JobEvents, event_keys, publish, tombstone_key
from core.jobs.fetch import FetchQueue
from core.jobs.outage import BUSY, is_transient, make_redis
from core.jobs.spec import PortraitSpec
from core.store.accounts import consume_token
from core.store.clock import db_time
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
        self.job_events = JobEvents(self.redis)  # one subscription for every follower
        self.saq = FetchQueue(make_redis(redis_url), name=QUEUE_NAME)

    async def close(self) -> None:
        await self.job_events.close()
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
                    await _stamp(session, job_id)
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
        limits are the worker's (its lease), so SAQ's own heartbeat and timeout are off. A
        finished job leaves no SAQ record behind (ttl -1): the database is the record, and an
        erased person's job must not come back when a cancelled attempt ends."""
        await self.saq.enqueue(
            "run_portrait", key=job_id, job_id=job_id, retries=1, timeout=0, heartbeat=0, ttl=-1
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
        return self.job_events.follow(job_id, timeout)

    async def forget(self, job_ids: list[str]) -> None:
        """Every trace of these jobs in Redis: their event logs and SAQ's records, also where
        SAQ lists them (for erasing a person's data). SAQ's keys are touched only after their
        type is checked (a worker's scheduler holds plain string locks beside them), and a
        tombstone keeps a still-running attempt from writing the event log back. Idempotent:
        an erase that stopped half-way is finished by running it again."""
        saq = self.saq
        lists = [saq.namespace("queued"), saq.namespace("active"), saq.incomplete_key()]
        for start in range(0, len(job_ids), FORGET_BATCH):
            keys = list(lists)
            for job_id in job_ids[start : start + FORGET_BATCH]:
                record = saq.job_id(job_id)  # "saq:job:<queue>:<key>", also its id in the lists
                keys += [record, f"{ABORT_ID_PREFIX}{job_id}", *event_keys(job_id)]
                keys.append(tombstone_key(job_id))
            await self.redis.eval(_FORGET, len(keys), *keys, LOG_TTL)


# KEYS: SAQ's queued and active lists and its incomplete sorted set, then per job: its SAQ
# record, its abort flag, its event log and state, its tombstone. ARGV: the tombstone's ttl.
_FORGET = """
local function is(key, kind) return redis.call('TYPE', key)['ok'] == kind end
for i = 4, #KEYS, 5 do
  local record = KEYS[i]
  if is(KEYS[1], 'list') then redis.call('LREM', KEYS[1], 0, record) end
  if is(KEYS[2], 'list') then redis.call('LREM', KEYS[2], 0, record) end
  if is(KEYS[3], 'zset') then redis.call('ZREM', KEYS[3], record) end
  redis.call('DEL', record, KEYS[i + 1], KEYS[i + 2], KEYS[i + 3])
  redis.call('SET', KEYS[i + 4], '1', 'EX', ARGV[1])
end
"""
FORGET_BATCH = 200  # jobs per script call: a person with thousands stays a few short calls


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


async def _stamp(session, job_id: uuid.UUID) -> None:
    """Created and updated in the database's clock, not the submitting host's: the reaper
    compares a queued job's updated_at with the database's now (the ORM's audit columns take
    only Python datetimes, so the rows are stamped after they are written)."""
    for table in (Job, Portrait):
        await session.execute(
            update(table)
            .where(table.id == job_id)
            .values(created_at=db_time(), updated_at=db_time())
            .execution_options(synchronize_session=False)
        )


def _uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UserInputError(f"{value!r} is not a valid id") from None
