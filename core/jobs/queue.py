"""The one submit API for the site, the bot and the workbench.

`submit_portrait` records the job and portrait rows and takes a token in one transaction,
then enqueues it on SAQ under the job id: submitting the same spec twice does nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redis.asyncio import Redis
from saq import Queue
from sqlalchemy import select

from core.errors import CapacityError, UserInputError
from core.jobs.events import JobEvent, follow, publish
from core.jobs.spec import PortraitSpec
from core.store.accounts import consume_token, refund_token
from core.store.db import Database
from core.store.models import Job, Portrait

QUEUE_NAME = "narcis"
RETRIES = 3  # attempts for failures that are not the user's (worker died, out of memory)
TIMEOUT_S = 900
HEARTBEAT_S = 30


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    attempts: int
    error: str | None
    media: dict


class JobQueue:
    def __init__(self, redis_url: str, db: Database, heartbeat_s: int = HEARTBEAT_S) -> None:
        self.db, self.heartbeat_s = db, heartbeat_s
        self.redis = Redis.from_url(redis_url)
        self.saq = Queue.from_url(redis_url, name=QUEUE_NAME)

    async def close(self) -> None:
        await self.saq.disconnect()
        await self.redis.aclose()

    async def submit_portrait(self, spec: PortraitSpec) -> str:
        job_id = uuid.UUID(spec.job_id)
        async with self.db.session() as session:
            if await session.get(Job, job_id) is None:
                await self._charge(session, spec)
                session.add(
                    Job(
                        id=job_id,
                        spec=spec.model_dump(mode="json"),
                        session_id=_uuid(spec.session_id),
                        token_spent=bool(spec.session_id or spec.user_id),
                    )
                )
                session.add(
                    Portrait(
                        id=job_id,
                        idea=spec.idea,
                        origin=spec.origin,
                        session_id=_uuid(spec.session_id),
                        user_id=_uuid(spec.user_id),
                        seed=spec.seed,
                        prompt=spec.params.composition.prompt if spec.params else "",
                    )
                )
                new = True
            else:
                new = False
        await self.enqueue(spec.job_id)
        if new:
            await publish(self.redis, JobEvent(job_id=spec.job_id, type="queued"))
        return spec.job_id

    async def _charge(self, session, spec: PortraitSpec) -> None:
        if spec.session_id is None and spec.user_id is None:
            return  # operators' jobs (bot, workbench) cost nothing
        if not await consume_token(session, _uuid(spec.session_id), _uuid(spec.user_id)):
            raise CapacityError("no tokens left: each portrait costs one token")

    async def enqueue(self, job_id: str) -> None:
        """Put the job on SAQ; a job already there (same key) is left alone."""
        await self.saq.enqueue(
            "run_portrait",
            key=job_id,
            job_id=job_id,
            retries=RETRIES,
            timeout=TIMEOUT_S,
            heartbeat=self.heartbeat_s,
        )

    async def write_prompt(
        self, idea: str, style: str = "none", seed: int = 0, timeout: float = 120
    ) -> dict:
        """Ask a worker to run the prompt agent; its reply, or {"error": reason}."""
        reply = await self.saq.apply(
            "write_prompt", idea=idea, style=style, seed=seed, timeout=timeout
        )
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

    async def cancel(self, job_id: str) -> bool:
        """Stop a queued or running job; its token is refunded. False if it had finished."""
        async with self.db.session() as session:
            job = await session.get(Job, _uuid(job_id), with_for_update=True)
            if job is None or job.status in ("done", "failed", "cancelled"):
                return False
            job.status = "cancelled"
            portrait = await session.get(Portrait, job.id)
            portrait.status = "cancelled"
            if job.token_spent:
                await refund_token(session, job.session_id, portrait.user_id)
                job.token_spent = False
        saq_job = await self.saq.job(job_id)
        if saq_job is not None:
            await self.saq.abort(saq_job, error="cancelled")
        await publish(self.redis, JobEvent(job_id=job_id, type="cancelled"))
        return True

    def events(self, job_id: str, timeout: float | None = None) -> AsyncIterator[JobEvent]:
        return follow(self.redis, job_id, timeout)

    async def recover(self) -> int:
        """Re-enqueue every unfinished job the database knows (after Redis lost its data)."""
        async with self.db.session() as session:
            ids = (
                await session.scalars(select(Job.id).where(Job.status.in_(("queued", "running"))))
            ).all()
        for job_id in ids:
            await self.enqueue(str(job_id))
        return len(ids)


def _uuid(value: str | uuid.UUID | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise UserInputError(f"{value!r} is not a valid id") from None
