"""The wall: curated portraits, newest first, by keyset pages; rendered pages cached in Redis
under a version number that every curation change bumps (no key scans, ever).

Only pages the site itself links to are cached: the first page, and pages after a cursor this
version of the wall handed out. Any other `?cursor=` or search is rendered and not kept, so a
client inventing cursors cannot fill Redis. A portrait is on the wall only when it is curated,
visible, done, and (for visitors' portraits) its owner chose to share it."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import re
import threading
import uuid
from dataclasses import dataclass
from functools import lru_cache

import thumbhash
from PIL import Image
from redis.asyncio import Redis
from sqlalchemy import Select, false, or_, select, true

from core.errors import UserInputError
from core.store.db import Database
from core.store.models import Portrait
from core.store.wall import NEW_CHANNEL, VERSION_KEY, bump_wall

PAGE_SIZE = 12
CACHE_TTL = 3600


@dataclass(frozen=True)
class WallItem:
    id: str
    idea: str
    slug: str
    width: int
    height: int
    placeholder: str  # data: URL painted from the thumbhash
    widths: tuple[int, ...]


@dataclass(frozen=True)
class WallPage:
    items: list[WallItem]
    next_cursor: str | None
    query: str | None


__all__ = ["NEW_CHANNEL", "Wall", "slugify"]


def slugify(text: str | None) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "portrait").lower()).strip("-")
    return (slug or "portrait")[:60]


_QUIET = threading.Lock()


@lru_cache(maxsize=8192)
def placeholder(hash_b64: str | None) -> str:
    """A tiny PNG painted from the thumbhash (decoding costs ~10 ms, so it is remembered)."""
    if not hash_b64:
        return ""
    # thumbhash 0.1.2 prints each picture's aspect ratio to stdout; the lock keeps two
    # threads from swapping sys.stdout back and forth under each other.
    with _QUIET, contextlib.redirect_stdout(io.StringIO()):
        width, height, rgba = thumbhash.thumb_hash_to_rgba(list(base64.b64decode(hash_b64)))
    image = Image.frombytes("RGBA", (width, height), bytes(rgba)).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def to_item(portrait: Portrait) -> WallItem:
    widths = tuple(
        sorted({int(k.split(".")[0]) for k in portrait.media if k.split(".")[0].isdigit()})
    )
    return WallItem(
        str(portrait.id),
        portrait.idea or "portrait",
        slugify(portrait.idea),
        portrait.width or 1024,
        portrait.height or 1024,
        placeholder(portrait.thumbhash),
        widths,
    )


class Wall:
    def __init__(self, db: Database, redis: Redis) -> None:
        self.db, self.redis = db, redis

    async def page(self, cursor: str | None, query: str | None) -> WallPage:
        """One page after `cursor` (an id): one indexed query (`wall_query`), no OFFSET."""
        async with self.db.session() as session:
            rows = list((await session.scalars(wall_query(cursor, query))).all())
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return WallPage([to_item(p) for p in rows], str(rows[-1].id) if more else None, query)

    async def version(self) -> int:
        return int(await self.redis.get(VERSION_KEY) or 0)

    async def bump(self, announce: bool = True) -> None:
        """The wall changed: every cached page is now stale. Open walls hear "new portrait"
        only when one joined (`announce`), never when one left."""
        await bump_wall(self.redis, announce)

    async def forget_pages(self) -> None:
        """Delete every cached page now, of every version (after an erase: nothing of the
        erased portraits may stay in Redis, not even in pages waiting to expire)."""
        keys = [k async for k in self.redis.sscan_iter(KEYS_SET)]
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(KEYS_SET)

    @staticmethod
    def cache_key(version: int, kind: str, cursor: str | None, query: str | None) -> str:
        digest = hashlib.sha1(f"{cursor}|{query}".encode()).hexdigest()[:16]
        return f"narcis:wall:v{version}:{kind}:{digest}"

    async def cacheable(self, version: int, cursor: str | None, query: str | None) -> bool:
        if query is not None:
            return False
        return cursor is None or bool(await self.redis.sismember(_issued(version), cursor))

    async def cached(self, key: str) -> bytes | None:
        return await self.redis.get(key)

    async def store(self, version: int, key: str, body: bytes, page: WallPage) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, body, ex=CACHE_TTL).sadd(KEYS_SET, key).expire(KEYS_SET, CACHE_TTL)
            if page.next_cursor:
                pipe.sadd(_issued(version), page.next_cursor).expire(_issued(version), CACHE_TTL)
            await pipe.execute()


KEYS_SET = "narcis:wall:cached"


def wall_query(cursor: str | None, query: str | None) -> Select:
    """`WHERE id < cursor ORDER BY id DESC LIMIT n`: UUIDv7 ids grow with time, so id order is
    newest-first, and the index `ix_portrait_wall` (curated, hidden, status, id) answers it
    without a scan or a sort. Plain `=` comparisons, not `IS TRUE`: PostgreSQL uses an index
    for the one and never for the other."""
    statement = select(Portrait).where(
        Portrait.curated == true(),
        Portrait.hidden == false(),
        Portrait.status == "done",
        or_(Portrait.shared == true(), Portrait.origin != "web"),
    )
    if cursor:
        statement = statement.where(Portrait.id < _parse(cursor))
    if query:
        statement = statement.where(Portrait.idea.ilike(f"%{_escape(query)}%", escape="\\"))
    return statement.order_by(Portrait.id.desc()).limit(PAGE_SIZE + 1)


def _issued(version: int) -> str:
    return f"narcis:wall:v{version}:cursors"


def _parse(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(cursor)
    except ValueError:
        raise UserInputError(f"invalid cursor {cursor!r}") from None


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
