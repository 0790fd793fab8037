"""The wall: `/` serves the page, or with HX-Request the next page's fragment.

Both are cached in Redis under the wall's version and answered with an ETag, so an unchanged
page costs two Redis reads, or a 304.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from litestar import Request, get
from litestar.response import Response, ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from photowall.news import WallNews
from photowall.render import render
from photowall.services import Services
from photowall.wall import Wall

HTML = "text/html"  # Litestar adds "; charset=utf-8"


@get("/", name="wall")
async def wall_page(
    request: Request, services: Services, cursor: str | None = None, q: str | None = None
) -> Response:
    wall = Wall(services.db, services.redis)
    fragment = request.headers.get("hx-request") == "true"
    query = (q or "").strip()[:60] or None
    version = await wall.version()
    kind = "fragment" if fragment else "page"
    etag = '"' + hashlib.sha1(f"{version}|{kind}|{cursor}|{query}".encode()).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Vary": "HX-Request", "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    key = wall.cache_key(version, kind, cursor, query)
    cacheable = await wall.cacheable(version, cursor, query)
    body = await wall.cached(key) if cacheable else None
    if body is None:
        page = await wall.page(cursor, query)
        template = "partials/wall_page.html" if fragment else "pages/wall.html"
        body = render(request, template, page=page, first=cursor is None).encode()
        if cacheable:
            await wall.store(version, key, body, page)
    return Response(body, media_type=HTML, headers=headers)


@get("/events/wall", name="wall_events")
async def wall_events(request: Request) -> ServerSentEvent:
    """'N new portraits' for open walls, without touching what the reader looks at."""
    news: WallNews = request.app.state.news

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        async for count in news.follow():
            if count == 0:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            noun = "portrait" if count == 1 else "portraits"
            yield ServerSentEventMessage(
                event="new", data=f'<a class="fresh" href="/">{count} new {noun} ↑</a>'
            )

    return ServerSentEvent(stream())
