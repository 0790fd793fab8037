"""The wall's version counter and its 'new portraits' channel, shared by everything that
changes what the public wall shows (the site's admin area, the bot's curate button)."""

from __future__ import annotations

from redis.asyncio import Redis

VERSION_KEY = "narcis:wall:version"
NEW_CHANNEL = "narcis:wall:new"
VERSION_CHANNEL = "narcis:wall:versions"  # every bump's new version, for in-process caches


async def bump_wall(redis: Redis, announce: bool = True) -> int:
    """The wall changed: every cached page is now stale (every server process hears the new
    version), and, when a portrait joined (`announce`), open walls hear "new portrait"."""
    version = await redis.incr(VERSION_KEY)
    # Redis hands the message to every subscriber before it answers PUBLISH: once this
    # returns, no process can read a request sent afterwards before it hears the bump.
    await redis.publish(VERSION_CHANNEL, str(version))
    if announce:
        await redis.publish(NEW_CHANNEL, "1")
    return version
