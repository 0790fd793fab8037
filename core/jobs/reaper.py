"""The reaper: a loop in every worker that keeps SAQ in line with the database, which owns
each job's state. One worker at a time does a pass (a short Redis lock), about every interval:

1. Running jobs whose lease expired (their worker died) are released: back to the queue, or
   failed and refunded once out of retries — the transition and its terminal event are the
   lifecycle's, so SAQ's view (aborted, failed, swept, missing) never decides anything.
2. Queued jobs that SAQ does not hold as queued (Redis lost its data, a fetch died midway, a
   hand-back could not reach Redis) are put on the queue again. A lost queue is rebuilt within
   about two intervals while the workers keep running.
3. Finished jobs whose terminal event never reached the log (Redis was away) are announced.

Whose turn: a pass keeps a Redis lock for 0.9 interval. A reaper that did a pass tries again
after 1.0–1.2 intervals, one that found the turn taken after 0.2–0.3, each at a random moment.
So a pass follows the last one within 0.9–1.2 intervals whatever each worker is doing, and the
turns move between workers (with fixed sleeps, the worker that started first could win every
turn for minutes: the others' tries keep landing inside its lock).
The lease rules (core/jobs/lifecycle.py): a lease is expired by the database's clock only; a
job that an attempt of this process is painting is never taken (`painting`); and nothing is
taken until this process has seen the database answer for a full lease, so that after a
database outage live attempts get to renew before anyone takes their jobs.
Everything here may run twice at once without harm: transitions are conditional updates and
a second delivery of a job finds it claimed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection

from saq.job import TERMINAL_STATUSES, Status

from core.jobs import lifecycle, metrics
from core.jobs.events import ended
from core.jobs.outage import is_transient, pause, shared
from core.jobs.queue import JobQueue

log = logging.getLogger("narcis.reaper")
LOCK = "narcis:reaper"
ANNOUNCE_WINDOW_S = 600.0
LOCK_SHARE = 0.9  # of an interval: how long a pass keeps the others off


class Reaper:
    def __init__(
        self,
        queue: JobQueue,
        lease_s: float,
        interval_s: float,
        owner: str,
        painting: Callable[[], Collection[uuid.UUID]] = frozenset,
    ) -> None:
        self.queue, self.lease_s, self.interval_s, self.owner = queue, lease_s, interval_s, owner
        self.painting = painting  # the jobs this process's attempts hold: never ours to take
        self.db = shared("the database")
        self.redis = shared("redis")
        self.db_up_since: float | None = time.monotonic()
        self.unclaimed: dict[tuple[str, int], float] = {}  # (job, fetch) → first seen unclaimed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            took = False
            try:
                took = await self.sweep() is not None
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("reaper pass failed")
                elif _is_redis(exc):
                    self.redis.failed(exc)
                else:
                    self.db.failed(exc, writing=True)  # writes would fail too
                    self.db_up_since = None
            later = random.uniform(1.0, 1.2) if took else random.uniform(0.2, 0.3)
            await pause(stop, self.interval_s * later)

    async def sweep(self) -> Counter | None:
        """One pass, if it is this reaper's turn (None when it is not); what it did."""
        done: Counter = Counter()
        lock_ms = max(1, int(self.interval_s * LOCK_SHARE * 1000))
        if not await self.queue.redis.set(LOCK, self.owner, nx=True, px=lock_ms):
            return None
        self.redis.ok()
        waiting = await lifecycle.waiting(self.queue.db, self.interval_s / 2)
        self.db.ok(writing=False)
        lapsed = await lifecycle.expired(self.queue.db)
        self.db.ok()  # it locks rows: a write, for a database that refuses writes
        if self.db_up_since is None:
            self.db_up_since = time.monotonic()
        if time.monotonic() - self.db_up_since >= self.lease_s:
            mine = set(self.painting())
            for job_id, _ in lapsed:
                if job_id not in mine:  # a live attempt here renews as soon as it can
                    done[await self.release(job_id)] += 1
        done["requeued"] += await self.requeue(waiting)
        done["announced"] += await self.announce()
        metrics.QUEUE_DEPTH.set(await self.queue.saq.count("queued"))
        if any(done.values()):
            log.info("reaper: %s", dict(done))
        return done

    async def release(self, job_id: uuid.UUID) -> str:
        outcome = await lifecycle.release(
            self.queue.db, job_id, "its worker stopped answering", token=None, failure=True
        )
        if outcome == "queued":
            await self.requeue([job_id], fetched_grace_s=0)  # its worker is dead
            log.warning("job %s: its worker stopped answering; re-queued", job_id)
        elif outcome == "failed":
            await self.queue.announce(job_id)
            log.warning("job %s: out of retries; failed and refunded", job_id)
        return f"expired→{outcome}"

    async def requeue(self, job_ids: list[uuid.UUID], fetched_grace_s: float | None = None) -> int:
        """Make sure SAQ holds each of these (database-queued) jobs as queued; a job fetched
        less than `fetched_grace_s` ago (default: one interval) is left to its claim."""
        grace_s = self.interval_s if fetched_grace_s is None else fetched_grace_s
        if not job_ids:
            return 0
        self._forget_unclaimed()
        saq, fixed, doubtful = self.queue.saq, 0, []
        for key, record in await self._records([str(j) for j in job_ids]):
            if record is None or record.status in TERMINAL_STATUSES:
                await saq.redis.zrem(saq.incomplete_key(), saq.job_id(key))
                await self.queue.enqueue(key)
                fixed += 1
            elif record.status == Status.QUEUED:
                doubtful.append(key)  # off the line: fetched this instant, or by a worker now dead
            elif self._unclaimed_for(key, record) >= grace_s:
                await saq.put_back(record)  # fetched long ago and never claimed: first in line
                fixed += 1
        if doubtful:
            await asyncio.sleep(1.0)  # a live fetch marks it active within milliseconds
            for _, record in await self._records(doubtful):
                if record is not None and record.status == Status.QUEUED:
                    await saq.put_back(record)
                    fixed += 1
        return fixed

    def _unclaimed_for(self, key: str, record) -> float:
        """How long this reaper has seen this fetch of the job unclaimed, by its own clock
        (SAQ stamps a fetch with the fetching host's clock, which is not ours to compare)."""
        return time.monotonic() - self.unclaimed.setdefault((key, record.started), time.monotonic())

    def _forget_unclaimed(self) -> None:
        horizon = time.monotonic() - 10 * self.interval_s
        self.unclaimed = {mark: t for mark, t in self.unclaimed.items() if t > horizon}

    async def _records(self, keys: list[str]) -> list:
        """(key, SAQ record) for each key whose record is not simply waiting in line."""
        saq = self.queue.saq
        in_line = set(await saq.redis.lrange(saq.queued_key(), 0, -1))
        pairs = zip(keys, await saq.jobs(keys), strict=True)
        return [
            (key, record)
            for key, record in pairs
            if not (
                record is not None
                and record.status == Status.QUEUED
                and record.id.encode() in in_line
            )
        ]

    async def announce(self) -> int:
        """Announce jobs that finished a while ago without a terminal event in their log."""
        recent = await lifecycle.finished_within(self.queue.db, ANNOUNCE_WINDOW_S, self.interval_s)
        missing = [
            j
            for j, found in zip(
                recent, await ended(self.queue.redis, [str(j) for j in recent]), strict=True
            )
            if not found
        ]
        for job_id in missing:
            await self.queue.announce(job_id)
        return len(missing)


def _is_redis(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("redis")
