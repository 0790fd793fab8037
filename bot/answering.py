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


async def answered(work: Awaitable[T], seconds: float = QUIET_S) -> T:
    """`await work`, or `CapacityError(NOT_ANSWERING)` when it takes longer than `seconds`."""
    try:
        return await asyncio.wait_for(work, seconds)
    except (TimeoutError, RedisConnectionError, RedisTimeoutError):
        raise CapacityError(NOT_ANSWERING) from None
