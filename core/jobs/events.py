"""A job's events over Redis: appended to a per-job log (so late listeners can replay) and
published live. One Lua script appends and broadcasts atomically and numbers each event by its
place in the log, so a kill mid-publish leaves nothing half-written and none is seen twice.

The log belongs to the job's latest attempt: once an attempt's `started` is in, events of
older attempts are refused, and after the one terminal event nothing more is appended.
Within one attempt, `EventStream` publishes from a single task, so steps land in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

from core.jobs.outage import is_transient, shared

EventType = Literal["queued", "started", "step", "preview", "done", "failed", "cancelled"]
TERMINAL = frozenset({"done", "failed", "cancelled"})
LOG_TTL = 24 * 3600
log = logging.getLogger("narcis.events")

# KEYS: log, state, channel; ARGV: event JSON, ttl, "1" if terminal. Returns the stamped
# event, or nil when refused (a stale attempt's event, or anything after the terminal one).
_APPEND = """
if redis.call('HEXISTS', KEYS[2], 'ended') == 1 then return false end
local event = cjson.decode(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '0')
if ARGV[3] ~= '1' and event['attempt'] < current then return false end
if event['type'] == 'started' then redis.call('HSET', KEYS[2], 'attempt', event['attempt']) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], 'ended', event['type']) end
event['seq'] = redis.call('LLEN', KEYS[1]) + 1
local payload = cjson.encode(event)
redis.call('RPUSH', KEYS[1], payload)
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[3], payload)
return payload
"""


class JobEvent(BaseModel):
    job_id: str
    type: EventType
    seq: int = 0
    attempt: int = 0  # the attempt that sent it (0: the submitter, a canceller, the reaper)
    stage: str | None = None
    step: int | None = None
    total: int | None = None
    result: dict[str, str] | None = None  # media keys, on done
    reason: str | None = None  # user-facing, on failed
    preview: str | None = None  # base64 WebP (≤ 256 px) of the picture forming, on preview
    at: float = 0.0


def _log(job_id: str) -> str:
    return f"narcis:events:{job_id}"


def _state(job_id: str) -> str:
    return f"narcis:events-state:{job_id}"


def _channel(job_id: str) -> str:
    return f"narcis:events-live:{job_id}"


def event_keys(job_id: str) -> tuple[str, str]:
    """The Redis keys a job's events are kept under (for erasing a person's data)."""
    return _log(job_id), _state(job_id)


async def publish(redis: Redis, event: JobEvent) -> JobEvent | None:
    """Append to the job's log and broadcast; the stamped event, or None when refused."""
    stamped = event.model_copy(update={"at": event.at or time.time()})
    keys = [_log(event.job_id), _state(event.job_id), _channel(event.job_id)]
    terminal = "1" if event.type in TERMINAL else "0"
    payload = await redis.eval(_APPEND, 3, *keys, stamped.model_dump_json(), LOG_TTL, terminal)
    return None if payload is None else JobEvent.model_validate_json(payload)


async def ended(redis: Redis, job_ids: list[str]) -> list[bool]:
    """Whether each job's log holds its terminal event."""
    if not job_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hexists(_state(job_id), "ended")
        return [bool(found) for found in await pipe.execute()]


async def history(redis: Redis, job_id: str) -> list[JobEvent]:
    return [
        JobEvent.model_validate_json(raw) for raw in await redis.lrange(_log(job_id), 0, -1) if raw
    ]


async def follow(
    redis: Redis, job_id: str, timeout: float | None = None
) -> AsyncIterator[JobEvent]:
    """Every event of the job in order, past and future, until a terminal one."""
    deadline = None if timeout is None else time.monotonic() + timeout
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(_channel(job_id))  # subscribe first: nothing slips between
        seen = 0
        for event in await history(redis, job_id):
            seen = event.seq
            yield event
            if event.type in TERMINAL:
                return
        while deadline is None or time.monotonic() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            event = JobEvent.model_validate_json(message["data"])
            if event.seq <= seen:
                continue
            for missed in (await history(redis, job_id))[seen : event.seq - 1]:
                yield missed  # a gap means we missed a broadcast; the log has it
            seen = event.seq
            yield event
            if event.type in TERMINAL:
                return


class EventStream:
    """One attempt's events, published in order by one task. Progress is best effort: while
    Redis is away an event is retried for a few seconds, then dropped (the terminal event is
    not sent here; the reaper re-announces one that was lost)."""

    def __init__(self, redis: Redis, job_id: str, attempt: int, keep_trying_s: float = 5.0):
        self.redis, self.job_id, self.attempt = redis, job_id, attempt
        self.keep_trying_s = keep_trying_s
        self.outage = shared("redis")
        self._queue: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._drain())

    def send(self, kind: EventType, **fields) -> None:
        self._queue.put_nowait(
            JobEvent(job_id=self.job_id, type=kind, attempt=self.attempt, at=time.time(), **fields)
        )

    def send_threadsafe(self, kind: EventType, **fields) -> None:
        """From the painting thread: queued on the loop in call order."""
        self._loop.call_soon_threadsafe(lambda: self.send(kind, **fields))

    async def close(self, timeout: float = 10.0) -> None:
        """Publish what is queued, then stop."""
        self._queue.put_nowait(None)
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            self._task.cancel()

    async def _drain(self) -> None:
        while (event := await self._queue.get()) is not None:
            if event.type == "step" and self.outage.down:
                continue  # progress is worth nothing late; do not queue up behind an outage
            try:
                await self.outage.retrying(
                    lambda e=event: publish(self.redis, e), self.keep_trying_s
                )
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("could not publish a %s event", event.type)
