"""Wall pages kept in this process, ready to send: no Redis round trip for a cached hit.

Keyed by the wall's version, which the process learns from its one Redis subscription
(photowall/news.py); a version change empties the cache. Each page is compressed once, when it
is kept (brotli and gzip beside the plain body), with its ETag and headers built then too, so
a hit only picks an encoding. Bounded: the least recently used page leaves first.

Only the event loop's thread touches it (no locks needed).
"""

from __future__ import annotations

import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import brotli

MAX_PAGES = 256  # first pages and fragments of one version; ~20 KB each before compression
HTML = "text/html"  # Litestar adds "; charset=utf-8"
ENCODINGS = ("br", "gzip")  # preferred first


@dataclass(frozen=True)
class Encoded:
    """One page in each encoding, with the headers each is sent with."""

    bodies: dict[str, bytes]  # "" = identity
    headers: dict[str, dict[str, str]]

    @classmethod
    def of(cls, body: bytes, tag: str) -> Encoded:
        bodies = {
            "": body,
            "br": brotli.compress(body, quality=9),
            "gzip": gzip.compress(body, compresslevel=6, mtime=0),
        }
        headers = {}
        for encoding in bodies:
            etag = f'"{tag}-{encoding}"' if encoding else f'"{tag}"'
            headers[encoding] = {
                "ETag": etag,
                "Vary": "HX-Request, Accept-Encoding",
                "Cache-Control": "no-cache",
            }
            if encoding:
                headers[encoding]["Content-Encoding"] = encoding
        return cls(bodies, headers)


def etag_base(version: int, kind: str, cursor: str | None, query: str | None) -> str:
    return hashlib.sha1(f"{version}|{kind}|{cursor}|{query}".encode()).hexdigest()[:20]


def choose_encoding(accept: str | None) -> str:
    """The best encoding the client takes ("" = none): brotli, then gzip; `q=0` refuses."""
    if not accept:
        return ""
    offered = {}
    for part in accept.lower().split(","):
        name, _, params = part.strip().partition(";")
        refused = params.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        offered[name.strip()] = not refused
    for encoding in ENCODINGS:
        if offered.get(encoding, offered.get("*", False)):
            return encoding
    return ""


def matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 13.1.2): `W/"x"` matches `"x"`; `*` matches
    any page. Anything else a client makes up matches nothing."""
    if not if_none_match:
        return False
    return any(tag.strip().removeprefix("W/") in (etag, "*") for tag in if_none_match.split(","))


class PageCache:
    def __init__(self, max_pages: int = MAX_PAGES) -> None:
        self.max_pages = max_pages
        self.version: int | None = None
        self._pages: OrderedDict[tuple[str, str | None], Encoded] = OrderedDict()

    def get(self, version: int, kind: str, cursor: str | None) -> Encoded | None:
        if version != self.version:
            return None
        page = self._pages.get((kind, cursor))
        if page is not None:
            self._pages.move_to_end((kind, cursor))
        return page

    def put(self, version: int, kind: str, cursor: str | None, body: bytes) -> Encoded:
        page = Encoded.of(body, etag_base(version, kind, cursor, None))
        if self.version is not None and version < self.version:
            return page  # rendered before a bump this process has already heard: not kept
        if version != self.version:
            self._pages.clear()
            self.version = version
        self._pages[(kind, cursor)] = page
        self._pages.move_to_end((kind, cursor))
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        return page

    def __len__(self) -> int:
        return len(self._pages)
