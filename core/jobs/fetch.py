"""SAQ's Redis queue as a worker fetches from it: nothing while the worker drains, and a
backoff (not a busy loop of tracebacks) while Redis is away — also when an attempt ends
during an outage: SAQ's record of it is closed once Redis is back (the database already holds
the outcome), not dropped with two tracebacks and a dead fetch task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from saq.job import Job, Status
from saq.queue.redis import RedisQueue

from core.jobs.outage import is_transient, shared

log = logging.getLogger("narcis.worker")
FINISH_GIVE_UP_S = 300.0  # Redis away this long: SAQ's record of an ended job is left as it is


class FetchQueue(RedisQueue):
    def __init__(self, redis, name: str) -> None:
        super().__init__(redis, name=name)
        self.draining: Callable[[], bool] = lambda: False
        self.outage = shared("redis")

    async def dequeue(self, timeout: float = 0.0, poll_interval: float = 0.0) -> Job | None:
        if self.draining():
            await asyncio.sleep(timeout or 1.0)
            return None
        try:
            job = await super().dequeue(timeout, poll_interval)
        except Exception as exc:
            if not is_transient(exc):
                raise
            await asyncio.sleep(self.outage.failed(exc))
            return None
        self.outage.ok()
        if job is not None and self.draining():
            await self.put_back(job)  # fetched in the moment the worker began to drain
            return None
        return job

    async def finish(self, job: Job, status: Status, **kwargs) -> None:
        try:
            await self.outage.retrying(
                lambda: super(FetchQueue, self).finish(job, status, **kwargs), FINISH_GIVE_UP_S
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("SAQ's record of job %s is left open: %s", job.key, exc.__class__.__name__)

    async def put_back(self, job: Job) -> None:
        """Return a fetched job to the front of the queue, as if never taken."""
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.lrem(self._active, 1, job.id).lpush(self._queued, job.id).execute()

    def queued_key(self) -> str:
        return self._queued

    def incomplete_key(self) -> str:
        return self._incomplete
