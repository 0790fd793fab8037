"""Riding out a service that stops answering: which errors are transient, backoff with one
log line per outage, and Redis clients that give up in seconds instead of hanging."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

T = TypeVar("T")
BUSY = "the queue is not answering; try again in a minute"


def is_transient(exc: BaseException) -> bool:
    """An error that goes away when the service comes back (not a bug, not bad data)."""
    if isinstance(exc, IntegrityError | ProgrammingError):
        return False
    return isinstance(
        exc,
        RedisConnectionError
        | RedisTimeoutError
        | DBAPIError
        | DisconnectionError
        | PoolTimeout
        | OSError
        | TimeoutError,
    )


def make_redis(url: str) -> Redis:
    """A Redis client whose commands fail within seconds when the server is away."""
    return Redis.from_url(
        url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=15
    )


class Outage:
    """Backoff for one service, logging one line when it goes away and one when it is back.
    A service may refuse writes and still answer reads (a read-only PostgreSQL): once a write
    failed, only a write that works ends the outage, so that reads do not make it flap."""

    def __init__(self, service: str, log: logging.Logger, first: float = 0.25, cap: float = 5.0):
        self.service, self.log, self.first, self.cap = service, log, first, cap
        self.since: float | None = None
        self.failures = 0
        self.writes_failed = False

    def failed(self, exc: BaseException, writing: bool = False) -> float:
        """Note a failure (of a write, with `writing`); the seconds to wait before the next try."""
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s is not answering (%s); backing off", self.service, _short(exc))
        self.failures += 1
        self.writes_failed |= writing
        return min(self.cap, self.first * 2 ** (self.failures - 1))

    def ok(self, writing: bool = True) -> None:
        """Note a call that worked (a read, without `writing`)."""
        if self.writes_failed and not writing:
            return
        if self.since is not None:
            self.log.warning("%s is back after %.1f s", self.service, time.monotonic() - self.since)
        self.since, self.failures, self.writes_failed = None, 0, False

    @property
    def down(self) -> bool:
        return self.since is not None

    async def retrying(
        self, call: Callable[[], Awaitable[T]], give_up_s: float = 300.0, writing: bool = True
    ) -> T:
        """`call()` until it works, backing off on transient errors for at most `give_up_s`."""
        deadline = time.monotonic() + give_up_s
        while True:
            try:
                result = await call()
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(self.failed(exc, writing))
                continue
            self.ok(writing)
            return result


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less once `stop` is set (a stopping worker does not wait out a loop's
    sleep)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


_SHARED: dict[str, Outage] = {}


def shared(service: str) -> Outage:
    """The process's one Outage for a service, so that all its loops log one line per outage."""
    if service not in _SHARED:
        _SHARED[service] = Outage(service, logging.getLogger("narcis.outage"))
    return _SHARED[service]


def _short(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
