"""'N new portraits' for every open wall, and the wall's version for the in-process page
cache, from one Redis subscription per server process.

Each open wall used to hold its own pub/sub connection: ~650 idle tabs exhausted the
process's file descriptors. Now one task listens and wakes every waiting stream by swapping
an asyncio.Event; a stream costs a coroutine and no socket to Redis.

`version` is the wall's version while the subscription is up (every bump publishes it), and
None while it is not, when callers must ask Redis: a bump missed is a stale page served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from core.jobs.outage import is_transient, shared
from core.store.wall import NEW_CHANNEL, VERSION_CHANNEL, VERSION_KEY

log = logging.getLogger("photowall.news")
KEEP_ALIVE_S = 30.0  # under the usual 60 s idle timeout of load balancers
POLL_S = 5.0  # a bounded read: it overrides the client's socket timeout


class WallNews:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sequence = 0  # messages heard since the process started
        self.version: int | None = None  # None: not subscribed, ask Redis
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        """Listen from start-up on (the page cache needs the version before any wall opens)."""
        self._start()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        outage = shared("redis")
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await self._subscribe(pubsub)
                    outage.ok()
                    while True:
                        # A bounded wait, never `listen()`: that read under the client's socket
                        # timeout, and every 10 quiet seconds the subscription broke.
                        message = await pubsub.get_message(timeout=POLL_S)
                        if message is not None and message["type"] == "message":
                            self._heard(message)
            except asyncio.CancelledError:
                self.version = None
                raise
            except Exception as exc:
                self.version = None
                if (
                    asyncio.current_task().cancelling()
                ):  # a cancel the client turned into its own error
                    raise asyncio.CancelledError from exc
                if not is_transient(exc):
                    log.exception("wall news: subscription failed; retrying")
                await asyncio.sleep(outage.failed(exc))

    async def _subscribe(self, pubsub) -> None:
        """Subscribed first (both confirmations read), then the version read: no bump can
        fall between the two unheard."""
        await pubsub.subscribe(NEW_CHANNEL, VERSION_CHANNEL)
        confirmed = 0
        while confirmed < 2:
            message = await pubsub.get_message(timeout=POLL_S)
            if message is None:
                raise TimeoutError("wall news: no subscription confirmation from Redis")
            confirmed += message["type"] == "subscribe"
        self.version = int(await self.redis.get(VERSION_KEY) or 0)

    def _heard(self, message: dict) -> None:
        if message["channel"] in (VERSION_CHANNEL, VERSION_CHANNEL.encode()):
            self.version = max(self.version or 0, int(message["data"]))
        else:
            self._wake()

    def _wake(self) -> None:
        self.sequence += 1
        woken, self._changed = self._changed, asyncio.Event()
        woken.set()

    async def follow(self) -> AsyncIterator[int]:
        """For one open wall: how many new portraits since it opened, whenever that changes,
        or 0 every KEEP_ALIVE_S seconds of silence."""
        self._start()
        start = self.sequence
        while True:
            changed = self._changed
            try:
                async with asyncio.timeout(KEEP_ALIVE_S):
                    await changed.wait()
            except TimeoutError:
                yield 0
                continue
            yield self.sequence - start

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a shutdown never waits on a Redis connection that does not answer.
            await asyncio.wait({self._task}, timeout=5)
