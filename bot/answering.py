"""Every Redis and database call the bot makes is bounded in time.

A Redis that hangs (a stopped server, a dead network path) must not leave a user looking at
"thinking…": after `QUIET_S` the call gives up and the user is told to try again. Commands
defer before their first such call, so the answer still arrives in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from core.errors import CapacityError

T = TypeVar("T")
QUIET_S = 4.0  # deferring takes < 1 s; the reply then comes within 5 s of the command
NOT_ANSWERING = "the queue is not answering, try again in a minute"


_abandoned: set[asyncio.Task] = set()  # cancelled work still unwinding (kept from the GC)


async def answered(work: Awaitable[T], seconds: float = QUIET_S) -> T:
    """`await work`, or `CapacityError(NOT_ANSWERING)` when it takes longer than `seconds`.

    Late work is cancelled but not waited for: unwinding it (a database rollback queued
    behind another writer) can take seconds more, and the user is told now."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        _abandoned.add(task)
        task.add_done_callback(_settled)
        raise CapacityError(NOT_ANSWERING)
    try:
        return task.result()
    except (TimeoutError, RedisConnectionError, RedisTimeoutError):
        raise CapacityError(NOT_ANSWERING) from None


def _settled(task: asyncio.Task) -> None:
    _abandoned.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: an error after giving up is no "never retrieved" warning
