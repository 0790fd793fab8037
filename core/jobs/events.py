"""A job's events over Redis: appended to a per-job log (so late listeners can replay) and
published live. One Lua script appends and broadcasts atomically and numbers each event by its
place in the log, so a kill mid-publish leaves nothing half-written and none is seen twice.

The log belongs to the job's latest attempt: once an attempt's `started` is in, events of
older attempts are refused, and after the one terminal event nothing more is appended.
Within one attempt, `EventStream` publishes from a single task, so steps land in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import aclosing
from typing import Literal, TypeVar

from pydantic import BaseModel
from redis.asyncio import Redis

from core.jobs.outage import is_transient, shared

EventType = Literal["queued", "started", "step", "preview", "done", "failed", "cancelled"]
TERMINAL = frozenset({"done", "failed", "cancelled"})
LOG_TTL = 24 * 3600
POLL_S = 5.0  # a bounded read of the subscription
READS_AT_ONCE = 1  # sub-millisecond each: a thousand pages opened at once wait 0.2 s
log = logging.getLogger("narcis.events")
T = TypeVar("T")

# KEYS: log, state, channel, tombstone; ARGV: event JSON, ttl, "1" if terminal. Returns the
# stamped event, or nil when refused (a stale attempt's event, anything after the terminal one,
# anything of an erased job). An event sent again (its reply was lost: Redis killed after it
# wrote the event, a client retrying) is not appended twice: the state hash keeps each event's
# place under its JSON's hash, and the event already logged is the answer.
_APPEND = """
if redis.call('EXISTS', KEYS[4]) == 1 then return false end
local sent = 'sent:' .. redis.sha1hex(ARGV[1])
local seq = redis.call('HGET', KEYS[2], sent)
if seq then return redis.call('LINDEX', KEYS[1], tonumber(seq) - 1) end
if redis.call('HEXISTS', KEYS[2], 'ended') == 1 then return false end
local event = cjson.decode(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[2], 'attempt') or '0')
if ARGV[3] ~= '1' and event['attempt'] < current then return false end
if event['type'] == 'started' then redis.call('HSET', KEYS[2], 'attempt', event['attempt']) end
if ARGV[3] == '1' then redis.call('HSET', KEYS[2], 'ended', event['type']) end
event['seq'] = redis.call('LLEN', KEYS[1]) + 1
local payload = cjson.encode(event)
redis.call('RPUSH', KEYS[1], payload)
redis.call('HSET', KEYS[2], sent, event['seq'])
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


def tombstone_key(job_id: str) -> str:
    """Set when a job is erased, so that an attempt still running cannot log it again; named
    by a hash, so that not even the id stays."""
    return "narcis:events-erased:" + hashlib.sha1(job_id.encode()).hexdigest()


async def publish(redis: Redis, event: JobEvent) -> JobEvent | None:
    """Append to the job's log and broadcast; the stamped event, or None when refused. The same
    stamped event published again is logged once (retrying after a lost reply is safe)."""
    stamped = event.model_copy(update={"at": event.at or time.time()})
    job_id = event.job_id
    keys = [_log(job_id), _state(job_id), _channel(job_id), tombstone_key(job_id)]
    terminal = "1" if event.type in TERMINAL else "0"
    payload = await redis.eval(
        _APPEND, len(keys), *keys, stamped.model_dump_json(), LOG_TTL, terminal
    )
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


class JobEvents:
    """Every job's live events from one pattern subscription per process, fanned out in memory
    to the streams that follow each job: an open job page costs a queue, not a Redis connection
    (each used to hold its own pub/sub connection for up to 30 minutes).

    Each stream subscribes (in memory) before it reads the log, and the process's subscription
    is confirmed before any log is read, so nothing slips between the two. When the
    subscription is renewed after an outage every stream re-reads its log for what it missed.
    Used from one event loop; a new loop (a later `asyncio.run`) starts afresh.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and not self._task.done():
            return
        self._loop = loop
        self._inboxes: dict[str, set[asyncio.Queue[JobEvent | None]]] = {}
        self._ready = asyncio.Event()
        # Log reads at once, at most: a thousand pages opened together would otherwise each
        # take a connection from the pool, which keeps them open afterwards.
        self._reads = asyncio.Semaphore(READS_AT_ONCE)
        self._task = loop.create_task(self._listen())

    async def follow(self, job_id: str, timeout: float | None = None) -> AsyncIterator[JobEvent]:
        """Every event of the job in order, past and future, until a terminal one (or until
        `timeout` seconds have passed)."""
        self._start()
        deadline = None if timeout is None else self._loop.time() + timeout
        inbox: asyncio.Queue[JobEvent | None] = asyncio.Queue()
        self._inboxes.setdefault(job_id, set()).add(inbox)
        try:
            await self._within(self._ready.wait(), deadline)  # from now on, what is sent is heard
            async with aclosing(self._in_order(job_id, inbox, deadline)) as events:
                async for event in events:
                    yield event
                    if event.type in TERMINAL:
                        return
        except TimeoutError:
            return
        finally:
            inboxes = self._inboxes.get(job_id, set())
            inboxes.discard(inbox)
            if not inboxes:
                self._inboxes.pop(job_id, None)

    async def _in_order(
        self, job_id: str, inbox: asyncio.Queue[JobEvent | None], deadline: float | None
    ) -> AsyncIterator[JobEvent]:
        """The log first, then what is heard; a gap (or a renewed subscription, None) is
        filled from the log. Event n is the log's n-th entry."""
        seen = 0
        for event in await self._history(job_id):
            seen = event.seq
            yield event
        while True:
            heard = await self._within(inbox.get(), deadline)
            if heard is not None and heard.seq <= seen:
                continue
            if heard is None or heard.seq > seen + 1:
                missed = (await self._history(job_id))[seen:]
            else:
                missed = [heard]
            for event in missed:
                seen = event.seq
                yield event

    async def _within(self, waiting: Awaitable[T], deadline: float | None) -> T:
        """`waiting`'s result, or TimeoutError at the deadline (never a timeout around a
        `yield`: it would cancel whatever the reader does meanwhile)."""
        if deadline is None:
            return await waiting
        return await asyncio.wait_for(waiting, max(0.0, deadline - self._loop.time()))

    async def _history(self, job_id: str) -> list[JobEvent]:
        async with self._reads:
            return await history(self.redis, job_id)

    async def _listen(self) -> None:
        outage = shared("redis")
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.psubscribe(_channel("*"))
                    while (await pubsub.get_message(timeout=POLL_S) or {}).get("type") != (
                        "psubscribe"
                    ):
                        pass  # confirmed: Redis now sends us every event published
                    outage.ok()
                    self._subscribed()
                    while True:
                        # A bounded wait, never `listen()` (see photowall/news.py)
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None and message["type"] == "pmessage":
                            self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._ready.clear()
                if not is_transient(exc):
                    log.exception("job events: subscription failed; retrying")
                await asyncio.sleep(outage.failed(exc))

    def _subscribed(self) -> None:
        if self._inboxes:  # a renewed subscription: each stream re-reads what it missed
            for inboxes in self._inboxes.values():
                for inbox in inboxes:
                    inbox.put_nowait(None)
        self._ready.set()

    def _deliver(self, payload: bytes) -> None:
        event = JobEvent.model_validate_json(payload)
        for inbox in self._inboxes.get(event.job_id, ()):
            inbox.put_nowait(event)

    async def close(self) -> None:
        if self._loop is asyncio.get_running_loop() and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


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
