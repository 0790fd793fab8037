"""Cached wall pages answered at the door (photowall/hits.py) are the routed answers, byte for
byte, and only a plain wall request for a served host is answered there."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from photowall.hits import CachedWallHits
from photowall.pagecache import PageCache
from redis.asyncio import Redis

from core.store.wall import bump_wall

ASKED = {  # what a request may carry, and so what the answers must agree on
    "page": {},
    "fragment": {"HX-Request": "true"},
    "brotli": {"Accept-Encoding": "br"},
    "gzip fragment": {"Accept-Encoding": "gzip, deflate", "HX-Request": "true"},
}
VARIES = {"date", "server"}


def answer(response: httpx.Response) -> tuple[int, bytes, dict[str, list[str]]]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        if name not in VARIES:
            headers.setdefault(name, []).append(value)
    return response.status_code, response.content, headers


async def _bump(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    await bump_wall(redis, announce=False)
    await redis.aclose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_hit_at_the_door_is_the_routed_answer(stack, server) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        for name, headers in ASKED.items():
            asyncio.run(_bump(stack.redis_url))  # nothing kept: the next one is routed
            routed = answer(client.get("/", headers=headers))
            hit = answer(client.get("/", headers=headers))
            assert hit == routed, name
            assert hit[0] == 200 and hit[2]["x-frame-options"] == ["DENY"], name
            tag = hit[2]["etag"][0]
            again = client.get("/", headers={**headers, "If-None-Match": f"W/{tag}"})
            assert (again.status_code, again.content) == (304, b""), name
            assert again.headers["etag"] == tag and "content-security-policy" in again.headers
            head = client.head("/", headers=headers)
            assert answer(head) == (200, b"", hit[2]), name  # content-length too


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_what_the_door_does_not_know_goes_to_the_app(stack, server) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        client.get("/")  # the page is cached now
        forged = client.get("/", headers={"Host": "evil.example"})
        assert (forged.status_code, forged.text) == (400, "invalid host header")
        assert client.get("/", headers={"Host": "127.0.0.1:80@evil.example"}).status_code == 400
        assert client.post("/").status_code in (403, 405)
        searched = client.get("/", params={"q": "emperor"})
        assert searched.status_code == 200 and searched.headers["etag"] != client.get(
            "/"
        ).headers.get("etag")
        assert client.get("/?cursor=%ZZ&cursor=2").status_code in (200, 400)
        assert client.get("/?cursor=nonsense").status_code in (200, 400)


class App:
    """The app behind the door: counts what reaches it."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1


class News:
    version: int | None = 7


def ask(door: CachedWallHits, query: bytes = b"", **headers: str) -> list[dict]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1:8000")]
        + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(door(scope, None, send))
    return sent


def test_only_a_cached_plain_wall_request_is_answered_at_the_door() -> None:
    app, news, pages = App(), News(), PageCache()
    door = CachedWallHits(app, news, pages, ("127.0.0.1",))
    assert ask(door) == [] and app.calls == 1  # not cached yet
    pages.put(7, "page", None, b"<p>wall</p>")
    pages.put(7, "page", "abc", b"<p>older</p>")
    assert ask(door)[1]["body"] == b"<p>wall</p>" and app.calls == 1
    assert ask(door, b"cursor=abc")[1]["body"] == b"<p>older</p>" and app.calls == 1
    for query in (b"cursor=zzz", b"q=x", b"cursor=abc&q=x", b"cursor=abc&cursor=abc", b"%%"):
        assert ask(door, query) == [], query
    assert ask(door, hx_request="true") == []  # no fragment kept
    assert app.calls == 7
    news.version = 8  # a bump heard: the kept pages are of an older wall
    assert ask(door) == [] and app.calls == 8
    news.version = None  # no subscription: only Redis knows the version
    assert ask(door) == [] and app.calls == 9


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fifty_parallel_walls_across_bumps_each_get_one_whole_version(stack, server) -> None:
    """The door's cache and version are shared by every request task of the process: 50 at
    once, five times, with the wall bumped between, each answer is whole and of one version,
    and the version after a bump is never the one before it."""

    async def burst(client: httpx.AsyncClient) -> set[tuple[str, bytes]]:
        answers = await asyncio.gather(*(client.get("/") for _ in range(50)))
        assert all(a.status_code == 200 for a in answers)
        return {(a.headers["etag"], a.content) for a in answers}

    async def go() -> None:
        seen: list[str] = []
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            for _ in range(5):
                got = await burst(client)
                assert len(got) == 1, "one version, one body, in a burst with no bump"
                seen.append(next(iter(got))[0])
                await _bump(stack.redis_url)
        assert len(set(seen)) == 5, seen

    asyncio.run(go())


async def _open_stream_at(door: CachedWallHits, method: str, host: bytes, query: bytes) -> list:
    """What the door sends for one request to the wall's stream, its client leaving at once."""
    scope = {
        "type": "http",
        "method": method,
        "path": "/events/wall",
        "query_string": query,
        "headers": [(b"host", host)],
    }
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b""}, {"type": "http.disconnect"}]

    async def receive() -> dict:
        await asyncio.sleep(0.05)
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    await asyncio.wait_for(door(scope, receive, send), 10)
    return sent


def test_a_plain_get_of_the_wall_stream_is_opened_at_the_door(redis_db_url) -> None:
    from photowall.news import WallNews

    async def run() -> tuple[list, int, list[int]]:
        app, redis = App(), Redis.from_url(redis_db_url)
        news = WallNews(redis)
        door = CachedWallHits(app, news, PageCache(), ("127.0.0.1",))
        opened = await _open_stream_at(door, "GET", b"127.0.0.1:8000", b"")
        calls = app.calls
        for method, host, query in (
            ("HEAD", b"127.0.0.1", b""),  # ends once its headers are out: the route's job
            ("GET", b"evil.example", b""),  # refused by the app, in its own words
            ("GET", b"127.0.0.1", b"x=1"),
            ("POST", b"127.0.0.1", b""),
        ):
            assert await _open_stream_at(door, method, host, query) == []  # the fake app's
        routed = app.calls
        await news.close()
        await redis.aclose()
        return opened, calls, [routed, news.listeners]

    opened, calls, (routed, left) = asyncio.run(run())
    assert opened[0]["type"] == "http.response.start" and opened[0]["status"] == 200
    assert (b"content-type", b"text/event-stream; charset=utf-8") in opened[0]["headers"]
    assert opened[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert (calls, routed, left) == (0, 4, 0)  # the app saw none of it; the stream ended
