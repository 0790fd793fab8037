"""One subscription per process for the walls' news: it outlives quiet spells and outages."""

from __future__ import annotations

import asyncio
import logging

from photowall.news import WallNews
from redis.asyncio import Redis

from core.store.wall import NEW_CHANNEL


async def _heard_after_quiet(url: str, quiet_s: float) -> list[int]:
    # A short socket timeout, so that a quiet spell longer than it is cheap to test.
    redis = Redis.from_url(url, socket_timeout=0.5)
    news = WallNews(redis)
    stream = news.follow()
    first = asyncio.create_task(anext(stream))
    await asyncio.sleep(quiet_s)
    heard = []
    for _ in range(3):
        await redis.publish(NEW_CHANNEL, "portrait")
        heard.append(await asyncio.wait_for(first, timeout=2))
        first = asyncio.create_task(anext(stream))
    first.cancel()
    await news.close()
    await redis.aclose()
    return heard


def test_news_survives_a_quiet_spell_longer_than_the_socket_timeout(redis_db_url, caplog):
    caplog.set_level(logging.WARNING)
    assert asyncio.run(_heard_after_quiet(redis_db_url, quiet_s=2.0)) == [1, 2, 3]
    assert not [r for r in caplog.records if r.name == "photowall.news"]
    assert not [r for r in caplog.records if "not answering" in r.getMessage()]
