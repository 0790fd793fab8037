"""Limits in Redis on what one client address can try and make us keep, each a fixed window
counted by one INCR.

Logging in: failures count per (account, address) and per address, never per account alone:
five wrong passwords from anywhere used to lock the owner out for 15 minutes. A guesser is
slowed to five tries per account and twenty in all per address and window; the owner, from
any other address, still logs in at once. A person who mistypes never loses /make either.

Free tokens: a new guest session or a new account (each brings five free tokens) counts
against its address's daily allowance, so that a fresh cookie jar is not a fresh five tokens.
Logging in counts against a daily allowance of sessions per address, so one address cannot
fill Redis with sessions.
"""

from __future__ import annotations

import hashlib

from redis.asyncio import Redis

from core.errors import CapacityError, UserInputError
from core.store.accounts import email_key

LOGINS_PER_MINUTE = 10  # per client address, successes and failures alike
FAILURES_PER_ACCOUNT_AND_ADDRESS = 5  # in WINDOW_S
FAILURES_PER_ADDRESS = 20  # every account together, in WINDOW_S
WINDOW_S = 15 * 60
SESSIONS_PER_ADDRESS = 100  # logins (each a stored session), in DAY_S
DAY_S = 24 * 3600


class TooManyAttempts(UserInputError):
    pass


async def _count(redis: Redis, key: str, window_s: int) -> int:
    async with redis.pipeline(transaction=True) as pipe:
        count, _ = await pipe.incr(key).expire(key, window_s, nx=True).execute()
    return int(count)


def _hashed(*parts: str) -> str:
    """No email addresses in Redis: a digest of them."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _pair_key(client: str, email: str) -> str:
    return f"narcis:login-failures:{_hashed(email_key(email), client)}"


def _address_key(client: str) -> str:
    return f"narcis:login-failures-from:{client}"


def _sessions_key(client: str) -> str:
    return f"narcis:sessions-from:{client}"


async def check_login(redis: Redis, client: str, email: str) -> None:
    """Raise TooManyAttempts when this client has tried too often, for this account or any."""
    if await _count(redis, f"narcis:logins:{client}", 60) > LOGINS_PER_MINUTE:
        raise TooManyAttempts("too many login attempts from here; wait a minute")
    keys = _pair_key(client, email), _address_key(client), _sessions_key(client)
    pair, address, sessions = (int(v or 0) for v in await redis.mget(*keys))
    wait = f"wait {WINDOW_S // 60} minutes"
    if pair >= FAILURES_PER_ACCOUNT_AND_ADDRESS:
        raise TooManyAttempts(f"too many failed logins for this account from here; {wait}")
    if address >= FAILURES_PER_ADDRESS:
        raise TooManyAttempts(f"too many failed logins from here; {wait}")
    if sessions >= SESSIONS_PER_ADDRESS:
        raise TooManyAttempts("too many logins from here today; try again tomorrow")


async def record_failure(redis: Redis, client: str, email: str) -> None:
    await _count(redis, _pair_key(client, email), WINDOW_S)
    await _count(redis, _address_key(client), WINDOW_S)


async def record_session(redis: Redis, client: str) -> None:
    await _count(redis, _sessions_key(client), DAY_S)


def _starts_key(client: str) -> str:
    return f"narcis:free-starts:{client}"


async def check_free_start(redis: Redis, client: str, per_day: int) -> None:
    """Refuse a new guest (or a new account's free tokens) beyond the address's allowance."""
    if int(await redis.get(_starts_key(client)) or 0) >= per_day:
        raise CapacityError(
            "this address has had its free tokens for today; log in to your account, or try "
            "again tomorrow"
        )


async def record_free_start(redis: Redis, client: str) -> None:
    await _count(redis, _starts_key(client), DAY_S)
