"""The in-process page cache is never stale: a bump returns once every server process has
heard it, busy or not."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import urllib.request

import pytest
import redis
from photowall.news import WallNews
from redis.asyncio import Redis

from core.store import wall
from core.store.wall import VERSION_CHANNEL, bump_wall


def etag(url: str) -> str:
    with urllib.request.urlopen(url + "/", timeout=10) as response:
        return response.headers["etag"]


@pytest.mark.timeout(120)
def test_a_bumped_wall_is_never_stale_in_any_process(stack, server, second_server) -> None:
    done = threading.Event()

    def keep_busy(url: str) -> None:  # other visitors: each loop has requests to answer
        while not done.is_set():
            etag(url)

    visitors = [threading.Thread(target=keep_busy, args=(u,)) for u in (server, second_server)]
    for visitor in visitors:
        visitor.start()
    seen: set[str] = set()
    try:
        for _ in range(40):
            before = {etag(server), etag(second_server)}  # both cached now
            asyncio.run(_bump(stack.redis_url))
            after = {etag(server), etag(second_server)}  # asked right after the bump returned
            assert not before & after, "a process served the page of a version already bumped"
            seen |= after
    finally:
        done.set()
        for visitor in visitors:
            visitor.join(timeout=20)
    assert len(seen) == 40


def _news_in_its_own_loop(redis_url: str) -> tuple[WallNews, asyncio.AbstractEventLoop]:
    """A server process's subscription, on a loop of its own (a thread), listening."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    news = WallNews(Redis.from_url(redis_url))
    loop.call_soon_threadsafe(news.start)
    deadline = time.monotonic() + 10
    while news.version is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert news.version is not None, "the subscription never came up"
    return news, loop


def _stop(news: WallNews, loop: asyncio.AbstractEventLoop) -> None:
    asyncio.run_coroutine_threadsafe(news.close(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)


async def _bump(redis_url: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        return await bump_wall(redis, announce=False)
    finally:
        await redis.aclose()


def test_a_bump_returns_only_once_a_busy_process_has_heard_it(redis_db_url) -> None:
    """A process whose loop is busy when the bump is published (a render, a GC pause) reads
    its subscription late; until it has, the bump must not return: it could be answering
    requests from its page cache in the meantime."""
    news, loop = _news_in_its_own_loop(redis_db_url)
    try:
        for _ in range(3):
            loop.call_soon_threadsafe(time.sleep, 0.3)  # the loop is busy for 0.3 s
            version = asyncio.run(_bump(redis_db_url))
            assert news.version == version, "the bump returned before the process heard it"
    finally:
        _stop(news, loop)


def test_a_process_that_never_hears_holds_a_bump_only_so_long(
    redis_db_url, monkeypatch, caplog
) -> None:
    """A subscriber that reads nothing (a stopped process) delays a bump by HEARD_WAIT_S,
    and the bump says so; it does not hang the admin's click."""
    caplog.set_level(logging.WARNING, logger="core.store.wall")
    monkeypatch.setattr(wall, "HEARD_WAIT_S", 0.5)
    deaf = redis.Redis.from_url(redis_db_url).pubsub()
    deaf.subscribe(VERSION_CHANNEL)
    deaf.get_message(timeout=1)  # the confirmation; nothing after it is ever read
    news, loop = _news_in_its_own_loop(redis_db_url)  # and one process that does hear
    try:
        started = time.monotonic()
        version = asyncio.run(_bump(redis_db_url))
        took = time.monotonic() - started
        assert 0.5 <= took < 3 and news.version == version
        assert "1 of 2 server processes acknowledged" in caplog.text
    finally:
        _stop(news, loop)
        deaf.close()


def test_bumps_at_once_each_wait_for_their_own_acknowledgements(redis_db_url, caplog) -> None:
    """Twenty bumps made at once (admins and the bot together), five times, heard by two
    processes: every bump returns, none waits out HEARD_WAIT_S, and both processes end on the
    last version."""
    caplog.set_level(logging.WARNING, logger="core.store.wall")
    processes = [_news_in_its_own_loop(redis_db_url) for _ in range(2)]

    async def together() -> list[int]:
        return await asyncio.gather(*(_bump(redis_db_url) for _ in range(20)))

    try:
        for round_ in range(5):
            started = time.monotonic()
            versions = asyncio.run(together())
            assert sorted(versions) == list(range(20 * round_ + 1, 20 * round_ + 21))
            assert time.monotonic() - started < wall.HEARD_WAIT_S
            assert [news.version for news, _ in processes] == [max(versions)] * 2
        assert "acknowledged" not in caplog.text
    finally:
        for news, loop in processes:
            _stop(news, loop)
