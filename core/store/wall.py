"""The wall's version counter and its 'new portraits' channel, shared by everything that
changes what the public wall shows (the site's admin area, the bot's curate button)."""

from __future__ import annotations

from redis.asyncio import Redis

VERSION_KEY = "narcis:wall:version"
NEW_CHANNEL = "narcis:wall:new"


async def bump_wall(redis: Redis) -> None:
    """The wall changed: every cached page is now stale, and open walls hear about it."""
    await redis.incr(VERSION_KEY)
    await redis.publish(NEW_CHANNEL, "1")
