"""The wall's version counter and its 'new portraits' channel, shared by everything that
changes what the public wall shows (the site's admin area, the bot's curate button)."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

VERSION_KEY = "narcis:wall:version"
NEW_CHANNEL = "narcis:wall:new"
VERSION_CHANNEL = "narcis:wall:versions"  # every bump's new version, for in-process caches
HEARD_WAIT_S = 2.0  # a process that has not heard by then is stopped or gone
HEARD_KEEP_S = 60  # a late acknowledgement's list is dropped after this

log = logging.getLogger("core.store.wall")


def heard_key(version: int) -> str:
    return f"narcis:wall:heard:{version}"


async def bump_wall(redis: Redis, announce: bool = True) -> int:
    """The wall changed: every cached page is now stale. Returns once every server process
    that was subscribed has heard the new version (or HEARD_WAIT_S has passed), and, when a
    portrait joined (`announce`), tells open walls "new portrait"."""
    version = await redis.incr(VERSION_KEY)
    # PUBLISH's answer does not mean its subscribers have read it: Redis may write this
    # reply before their messages, and a subscriber's loop may answer a request before it
    # reads its subscription. So each one acknowledges (`heard`), and the bump waits.
    subscribers = await redis.publish(VERSION_CHANNEL, str(version))
    await _wait_until_heard(redis, version, subscribers)
    if announce:
        await redis.publish(NEW_CHANNEL, "1")
    return version


async def heard(redis: Redis, version: int) -> None:
    """A server process has heard `version` and serves no page of an older one from now on."""
    async with redis.pipeline(transaction=True) as pipe:
        await pipe.rpush(heard_key(version), 1).expire(heard_key(version), HEARD_KEEP_S).execute()


async def _wait_until_heard(redis: Redis, version: int, subscribers: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEARD_WAIT_S
    for answered in range(subscribers):
        left = deadline - loop.time()
        # Never under 10 ms: a timeout Redis rounds down to 0 would block for ever.
        if left <= 0 or await redis.blpop([heard_key(version)], timeout=max(left, 0.01)) is None:
            log.warning(
                "wall version %d: %d of %d server processes acknowledged in %.0f s; "
                "the others may serve the old wall until they read it",
                version, answered, subscribers, HEARD_WAIT_S,
            )  # fmt: skip
            return
