"""'N new portraits' for every open wall, and the wall's version for the in-process page
cache, from one Redis subscription per server process.

Each open wall used to hold its own pub/sub connection: ~650 idle tabs exhausted the
process's file descriptors. Now one task listens and settles each open wall's `Listener`; a
stream costs a coroutine, a future and a timer, and no socket to Redis. The listeners are a
set, not the waiters of one shared asyncio.Event: an Event forgets a cancelled waiter by
searching its deque, and 10,000 walls closing in any order but the one they opened in made
that quadratic.

`version` is the wall's version while the subscription is up (every bump publishes it), and
None while it is not, when callers must ask Redis: a bump missed is a stale page served. Each
version heard is acknowledged once it is set, and a bump returns only then: a request sent
after a bump finds the new version in every process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from core.jobs.outage import is_transient, shared
from core.store.wall import NEW_CHANNEL, VERSION_CHANNEL, VERSION_KEY, heard
from photowall.pacing import PerTurn

log = logging.getLogger("photowall.news")
KEEP_ALIVE_S = 30.0  # under the usual 60 s idle timeout of load balancers
POLL_S = 5.0  # a bounded read: it overrides the client's socket timeout
NEWS, KEEP_ALIVE = "news", "keep-alive"  # what settled a listener's wait
# Walls whose readers left, woken per loop turn: 10,000 leaving at once (a proxy restarting)
# would otherwise all resume in one turn, and every other request would wait behind them.
LEAVE_BATCH = 64


class Listener:
    """One open wall: the future its stream waits on now, settled by news, by its keep-alive
    timer, or by its client leaving (`leave`, which also ends every later wait at once).

    Only the event loop's thread touches it."""

    __slots__ = ("_departures", "_waiter", "gone")

    def __init__(self) -> None:
        self._waiter: asyncio.Future[str] | None = None
        self._departures: PerTurn[Listener] | None = None  # set by WallNews.follow
        self.gone = False

    def settle(self, what: str) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(what)

    def leave(self, _done: object = None) -> None:
        """The client went away (a done-callback of the task that watches for it): the wait
        ends at once, or within a few loop turns when many leave together."""
        self.gone = True
        if self._departures is None:
            self.settle("gone")
        else:
            self._departures.add(self)

    async def wait(self, timeout: float) -> str:
        if self.gone:
            return "gone"
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = loop.call_later(timeout, self.settle, KEEP_ALIVE)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _gone(listener: Listener) -> None:
    listener.settle("gone")


class WallNews:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.sequence = 0  # messages heard since the process started
        self.version: int | None = None  # None: not subscribed, ask Redis
        self._listeners: set[Listener] = set()
        self._departures: PerTurn[Listener] = PerTurn(_gone, LEAVE_BATCH)
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
                            await self._heard(message)
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

    async def _heard(self, message: dict) -> None:
        if message["channel"] in (VERSION_CHANNEL, VERSION_CHANNEL.encode()):
            version = int(message["data"])
            self.version = max(self.version or 0, version)
            await heard(self.redis, version)  # the bump waits for this (core/store/wall.py)
        else:
            self._wake()

    def _wake(self) -> None:
        self.sequence += 1
        for listener in tuple(self._listeners):
            listener.settle(NEWS)

    async def follow(self, listener: Listener | None = None) -> AsyncIterator[int]:
        """For one open wall: how many new portraits since it opened, whenever that changes,
        or 0 every KEEP_ALIVE_S seconds of silence; it ends once `listener` has left.

        News heard while the stream was busy sending is shown at once, not at the next news;
        a burst of news while it waits becomes one message with the latest count."""
        self._start()
        listener = listener or Listener()
        listener._departures = self._departures
        start = shown = self.sequence
        self._listeners.add(listener)
        try:
            while not listener.gone:
                if self.sequence == shown and await listener.wait(KEEP_ALIVE_S) == KEEP_ALIVE:
                    yield 0
                elif self.sequence != shown:
                    shown = self.sequence
                    yield shown - start
        finally:
            self._listeners.discard(listener)

    @property
    def listeners(self) -> int:
        """Open walls this process follows now."""
        return len(self._listeners)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # Bounded: a shutdown never waits on a Redis connection that does not answer.
            await asyncio.wait({self._task}, timeout=5)
