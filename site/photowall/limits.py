"""Login limits in Redis: per client address, and per account (failures only), each a
fixed window counted by one INCR. A password guesser spread over many addresses still meets
the account's limit; a person who mistypes never locks anyone out of /make."""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from core.errors import UserInputError

LOGINS_PER_MINUTE = 10  # per client address, successes and failures alike
FAILURES_PER_ACCOUNT = 5  # per email, in WINDOW_S
WINDOW_S = 15 * 60


class TooManyAttempts(UserInputError):
    pass


async def _count(redis: Redis, key: str, window_s: int) -> int:
    async with redis.pipeline(transaction=True) as pipe:
        count, _ = await pipe.incr(key).expire(key, window_s, nx=True).execute()
    return int(count)


def _account_key(email: str) -> str:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return f"narcis:login-failures:{digest}"  # hashed: no email addresses in Redis


async def check_login(redis: Redis, client: str, email: str) -> None:
    """Raise TooManyAttempts when this client or this account has tried too often."""
    if await _count(redis, f"narcis:logins:{client}", 60) > LOGINS_PER_MINUTE:
        raise TooManyAttempts("too many login attempts from here; wait a minute")
    failures = int(await redis.get(_account_key(email)) or 0)
    if failures >= FAILURES_PER_ACCOUNT:
        raise TooManyAttempts(
            f"too many failed logins for this account; wait {WINDOW_S // 60} minutes"
        )


async def record_failure(redis: Redis, email: str) -> None:
    await _count(redis, _account_key(email), WINDOW_S)
