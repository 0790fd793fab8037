"""Cached wall pages and the wall's stream, answered at the door, before the framework sees
the request.

A hit in the page cache (photowall/pagecache.py) is bytes and headers made once per page, so
all that is left per request is Litestar's own work: routing, dependency injection, the
session, the host and CSRF middleware, the response object. None of it changes the answer
to a plain `GET /` (or `?cursor=…`, or htmx's fragment of it) for a host we serve, which
is the same for every visitor: the wall carries no session and no form. So such a request
with the page in the cache is answered here, with the very headers the routed answer has;
anything else (a miss, a search, another path, a Host we do not serve, a stale version)
goes on to the app unchanged. The security headers are added to these answers as to every
other, by the app's `before_send` hook, which wraps `send` before this handler is called.

The wall's stream (`GET /events/wall`) is the same for every visitor too, and it is held
open: through the framework's middleware, each open wall kept a dozen more coroutines alive
and unwound them all when it closed.

Only the event loop's thread runs it: the cache and the news it reads are the loop's too.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from litestar.types import ASGIApp, Receive, Scope, Send

from photowall.news import WallNews
from photowall.pagecache import PageCache, choose_encoding, matches
from photowall.routes.wall import wall_stream
from photowall.security import serves

CONTENT_TYPE = (b"content-type", b"text/html; charset=utf-8")
STREAM = "/events/wall"


class CachedWallHits:
    def __init__(
        self,
        app: ASGIApp,
        news: WallNews,
        pages: PageCache,
        hosts: tuple[str, ...],
    ) -> None:
        self.app, self.news, self.pages, self.hosts = app, news, pages, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._opens_stream(scope):
            await wall_stream(self.news, receive, send)
            return
        answer = self._answer(scope) if scope["type"] == "http" else None
        if answer is None:
            await self.app(scope, receive, send)
            return
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _opens_stream(self, scope: Scope) -> bool:
        """A plain GET of the wall's stream from a host we serve (HEAD, and anything odd,
        go on to the app's route)."""
        if scope["path"] != STREAM or scope["method"] != "GET" or scope["query_string"]:
            return False
        return serves(self.hosts, dict(scope["headers"]).get(b"host", b""))

    def _answer(self, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        """The cached answer to this request, or None when the app must answer it."""
        if scope["path"] != "/" or scope["method"] not in ("GET", "HEAD"):
            return None
        cursor = _cursor_only(scope["query_string"])
        version = self.news.version
        if cursor is False or version is None:
            return None
        headers = dict(scope["headers"])
        if not serves(self.hosts, headers.get(b"host", b"")):
            return None  # the app refuses it, in its own words
        kind = "fragment" if headers.get(b"hx-request") == b"true" else "page"
        kept = self.pages.get(version, kind, cursor)
        if kept is None:
            return None
        encoding = choose_encoding(_text(headers.get(b"accept-encoding")))
        sent = [(k.lower().encode(), v.encode()) for k, v in kept.headers[encoding].items()]
        if matches(_text(headers.get(b"if-none-match")), kept.headers[encoding]["ETag"]):
            return 304, sent, b""
        body = kept.bodies[encoding]
        length = (b"content-length", str(len(body)).encode())
        if scope["method"] == "HEAD":
            body = b""
        return 200, [CONTENT_TYPE, length, *sent], body


def _cursor_only(query: bytes) -> str | bool | None:
    """The cursor when the query holds nothing else (None: no cursor); False otherwise."""
    if not query:
        return None
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return False
    if len(pairs) != 1 or pairs[0][0] != "cursor":
        return False
    return pairs[0][1]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
