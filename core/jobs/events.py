"""A job's events over Redis: appended to a per-job log (so late listeners can replay) and
published live. Every event carries its position in the log, so none is seen twice."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Literal

from pydantic import BaseModel
from redis.asyncio import Redis

EventType = Literal["queued", "started", "step", "preview", "done", "failed", "cancelled"]
TERMINAL = frozenset({"done", "failed", "cancelled"})
LOG_TTL = 24 * 3600


class JobEvent(BaseModel):
    job_id: str
    type: EventType
    seq: int = 0
    stage: str | None = None
    step: int | None = None
    total: int | None = None
    result: dict[str, str] | None = None  # media keys, on done
    reason: str | None = None  # user-facing, on failed
    preview: str | None = None  # base64 WebP (≤ 256 px) of the picture forming, on preview
    at: float = 0.0


def _log(job_id: str) -> str:
    return f"narcis:events:{job_id}"


def _channel(job_id: str) -> str:
    return f"narcis:events-live:{job_id}"


async def publish(redis: Redis, event: JobEvent) -> JobEvent:
    """Append to the job's log, then broadcast, stamping the event with its position."""
    key = _log(event.job_id)
    seq = await redis.rpush(key, "")
    stamped = event.model_copy(update={"seq": seq, "at": event.at or time.time()})
    payload = stamped.model_dump_json()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lset(key, seq - 1, payload).expire(key, LOG_TTL).publish(
            _channel(event.job_id), payload
        )
        await pipe.execute()
    return stamped


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
