"""'N new portraits' for every open wall from one Redis subscription per server process.

Each open wall used to hold its own pub/sub connection: ~650 idle tabs exhausted the
process's file descriptors. Now one task listens and wakes every waiting stream by swapping
an asyncio.Event; a stream costs a coroutine and no socket to Redis.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from core.jobs.outage import is_transient, shared
from core.store.wall import NEW_CHANNEL

log = logging.getLogger("photowall.news")
KEEP_ALIVE_S = 30.0  # under the usual 60 s idle timeout of load balancers
POLL_S = 5.0  # a bounded read: it overrides the client's socket timeout


class WallNews:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sequence = 0  # messages heard since the process started
        self._changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        outage = shared("redis")
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(NEW_CHANNEL)
                    outage.ok()
                    while True:
                        # A bounded wait, never `listen()`: that read under the client's socket
                        # timeout, and every 10 quiet seconds the subscription broke.
                        if await pubsub.get_message(timeout=POLL_S) is not None:
                            self._wake()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("wall news: subscription failed; retrying")
                await asyncio.sleep(outage.failed(exc))

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
            await asyncio.gather(self._task, return_exceptions=True)
