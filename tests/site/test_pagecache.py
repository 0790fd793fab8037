"""The in-process page cache is never stale: a bump reaches every server process at once."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from redis.asyncio import Redis

from core.store.wall import bump_wall


def etag(url: str) -> str:
    with urllib.request.urlopen(url + "/", timeout=10) as response:
        return response.headers["etag"]


@pytest.mark.timeout(120)
def test_a_bumped_wall_is_never_stale_in_any_process(stack, server, second_server) -> None:
    async def bump() -> None:
        redis = Redis.from_url(stack.redis_url)
        await bump_wall(redis, announce=False)
        await redis.aclose()

    seen: set[str] = set()
    for _ in range(20):
        before = {etag(server), etag(second_server)}  # both cached now
        asyncio.run(bump())
        after = {etag(server), etag(second_server)}  # asked right after the bump returned
        assert not before & after, "a process served the page of a version already bumped"
        seen |= after
    assert len(seen) == 20
