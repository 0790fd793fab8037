"""The wall: `/` serves the page, or with HX-Request the next page's fragment.

Both are cached under the wall's version, in this process (photowall/pagecache.py: ready to
send, compressed once, no Redis round trip) and in Redis (shared by every process), and
answered with an ETag, so an unchanged page costs a dictionary lookup, or a 304.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from litestar import Request, asgi, get
from litestar.exceptions import MethodNotAllowedException
from litestar.response import Response
from litestar.types import Receive, Scope, Send

from photowall import sse
from photowall.news import Listener, WallNews
from photowall.pagecache import HTML, PageCache, choose_encoding, etag_base, matches
from photowall.render import render
from photowall.services import Services
from photowall.wall import Wall


@get("/", name="wall")
async def wall_page(
    request: Request, services: Services, cursor: str | None = None, q: str | None = None
) -> Response:
    news: WallNews = request.app.state.news
    pages: PageCache = request.app.state.pages
    wall = Wall(services.db, services.redis)
    headers = request.headers
    kind = "fragment" if headers.get("hx-request") == "true" else "page"
    query = (q or "").strip()[:60] or None
    version = news.version if news.version is not None else await wall.version()
    kept = pages.get(version, kind, cursor) if query is None else None
    if kept is None:
        body, cacheable = await _body(request, wall, version, kind, cursor, query)
        if not cacheable:
            etag = '"' + etag_base(version, kind, cursor, query) + '"'
            plain = {"ETag": etag, "Vary": "HX-Request", "Cache-Control": "no-cache"}
            if matches(headers.get("if-none-match"), etag):
                return Response(b"", status_code=304, headers=plain)
            return Response(body, media_type=HTML, headers=plain)
        kept = pages.put(version, kind, cursor, body)
    encoding = choose_encoding(headers.get("accept-encoding"))
    sent = kept.headers[encoding]
    if matches(headers.get("if-none-match"), sent["ETag"]):
        return Response(b"", status_code=304, headers=sent)
    return Response(kept.bodies[encoding], media_type=HTML, headers=sent)


async def _body(
    request: Request, wall: Wall, version: int, kind: str, cursor: str | None, query: str | None
) -> tuple[bytes, bool]:
    """The page from Redis, or rendered (and kept there when the site links to it)."""
    key = wall.cache_key(version, kind, cursor, query)
    cacheable = await wall.cacheable(version, cursor, query)
    body = await wall.cached(key) if cacheable else None
    if body is None:
        page = await wall.page(cursor, query)
        template = "partials/wall_page.html" if kind == "fragment" else "pages/wall.html"
        body = render(request, template, page=page, first=cursor is None).encode()
        if cacheable:
            await wall.store(version, key, body, page)
    return body, cacheable


@asgi("/events/wall", name="wall_events")
async def wall_events(scope: Scope, receive: Receive, send: Send) -> None:
    """'N new portraits' for open walls, without touching what the reader looks at.

    A plain ASGI handler (photowall/sse.py): idle, a wall costs a future and a timer; closed,
    a few callbacks."""
    if scope["method"] != "GET":  # HEAD arrives here as GET (photowall/head.py)
        raise MethodNotAllowedException(headers={"Allow": "GET, HEAD"})
    await wall_stream(scope["litestar_app"].state.news, receive, send)


async def wall_stream(news: WallNews, receive: Receive, send: Send) -> None:
    """One open wall's stream; the door (photowall/hits.py) opens most of them."""
    listener = Listener()
    await sse.stream(receive, send, _wall_news(news, listener), listener.leave)


async def _wall_news(news: WallNews, listener: Listener) -> AsyncIterator[bytes]:
    async with aclosing(news.follow(listener)) as counts:
        async for count in counts:
            if count == 0:
                yield sse.KEEP_ALIVE
                continue
            noun = "portrait" if count == 1 else "portraits"
            yield sse.event("new", f'<a class="fresh" href="/">{count} new {noun} ↑</a>')
