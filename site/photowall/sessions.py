"""Server-side sessions: the cookie holds only a random id; what it stands for lives in Redis.

A session is one Redis hash, `narcis:session:<id>`, with the fields `guest` (the guest
session's id) and `user` (the account's id, once logged in), stored only when something must
outlive the response: a login, a guest's first upload. Viewing a page, forms included, stores
nothing. Fields are written one at a time, never read-modify-written, so parallel requests of
one browser cannot undo each other; the guest is claimed with HSETNX, so they all agree on one.
Each account keeps the set of its sessions, so "log out everywhere" can end them all.
Nothing here trusts the cookie beyond "this id exists in Redis": forging one gains nothing.

Form tokens are signed double-submit tokens: a random nonce in its own cookie, and in the form
HMAC(secret key, nonce, session id). A token is worth nothing without its nonce cookie, outside
the session it was made for (a login changes the id), or without the server's key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis

from core.jobs.outage import is_transient

COOKIE = "narcis_session"
NONCE_COOKIE = "narcis_csrf"
TTL_S = 7 * 24 * 3600
_PREFIX = "narcis:session:"


def session_key(sid: str) -> str:
    return _PREFIX + sid


def user_sessions_key(user_id: str) -> str:
    return f"narcis:user-sessions:{user_id}"


def _mac(secret: bytes, *parts: str) -> str:
    digest = hmac.new(secret, "|".join(parts).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Visit:
    """This request's session: what Redis held, and what this request adds to it."""

    sid: str | None
    data: dict[str, str]
    secret: bytes = b""  # the site's key, which signs form tokens
    nonce: str | None = None  # the form-token cookie's value
    pending: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None  # a Set-Cookie value to send, when the id changed
    new_nonce: bool = False  # the nonce cookie is to be sent

    def get(self, name: str) -> str | None:
        return self.pending.get(name) or self.data.get(name)

    def csrf_token(self) -> str:
        """The form token of this browser and session; stores nothing."""
        if self.nonce is None:
            self.nonce, self.new_nonce = secrets.token_urlsafe(32), True
        return _mac(self.secret, "csrf", self.nonce, self.sid or "")

    def csrf_matches(self, given: str) -> bool:
        return self.nonce is not None and hmac.compare_digest(
            given.encode(), self.csrf_token().encode()
        )

    def first_id(self) -> str:
        """The id of this browser's first stored session: derived from its nonce, so that
        parallel first uploads of one browser agree on one session (and so on one guest)."""
        self.csrf_token()  # the nonce, made now if this browser has none yet
        return _mac(self.secret, "session", self.nonce)

    def _new_id(self, sid: str | None = None) -> None:
        self.sid = sid or secrets.token_urlsafe(32)
        self.cookie = self.sid


class Sessions:
    def __init__(self, redis: Redis, secure: bool, secret: str) -> None:
        self.redis, self.secure = redis, secure
        self.secret = hashlib.sha256(f"photowall-sessions|{secret}".encode()).digest()

    async def load(self, scope: Scope) -> Visit:
        sid, nonce = _cookie(scope, COOKIE), _cookie(scope, NONCE_COOKIE)
        data = {}
        if sid:
            raw = await self.redis.hgetall(session_key(sid))
            data = {k.decode(): v.decode() for k, v in raw.items()}
        return Visit(sid if data else None, data, self.secret, nonce or None)

    async def save(self, visit: Visit) -> None:
        if visit.sid is None or not visit.pending:
            return
        key = session_key(visit.sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.hset(key, mapping=visit.pending).expire(key, TTL_S).execute()
        visit.data.update(visit.pending)
        visit.pending.clear()

    async def claim(self, visit: Visit, name: str, value: str) -> str:
        """Set `name` unless a parallel request of this session did first; the value that won."""
        if visit.sid is None:
            visit._new_id(visit.first_id())
        key = session_key(visit.sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            _, _, won = (
                await pipe.hsetnx(key, name, value).expire(key, TTL_S).hget(key, name).execute()
            )
        won = won.decode()
        visit.data[name] = won
        return won

    async def log_in(self, visit: Visit, user_id: str, keep_guest: bool) -> None:
        """A new session id for the logged-in session (the old one may have been seen). The
        guest session stays only when it is now the account's."""
        guest = visit.get("guest")
        kept = {"guest": guest} if keep_guest and guest else {}
        if visit.sid is not None:
            await self.redis.delete(session_key(visit.sid))
        visit.data = {}
        visit.pending = {**kept, "user": user_id}
        visit._new_id()
        await self.save(visit)
        await self.redis.sadd(user_sessions_key(user_id), visit.sid)
        await self.redis.expire(user_sessions_key(user_id), TTL_S)

    async def log_out(self, visit: Visit) -> None:
        if visit.sid is not None:
            await self.redis.delete(session_key(visit.sid))
            if user := visit.get("user"):
                await self.redis.srem(user_sessions_key(user), visit.sid)
        visit.sid, visit.data, visit.pending, visit.cookie = None, {}, {}, ""

    async def log_out_everywhere(self, user_id: str) -> int:
        """End every session of the account, in every browser."""
        members = await self.redis.smembers(user_sessions_key(user_id))
        keys = [session_key(m.decode()) for m in members]
        if keys:
            await self.redis.delete(*keys)
        await self.redis.delete(user_sessions_key(user_id))
        return len(keys)

    def set_cookie(self, name: str, value: str) -> bytes:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={TTL_S if value else 0}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode()

    def cookies(self, visit: Visit, saved: bool) -> list[tuple[bytes, bytes]]:
        """The Set-Cookie headers this response needs: the session's, once it is stored, and
        the form nonce's, which needs no storage."""
        headers = []
        if saved and visit.cookie is not None:
            headers.append((b"set-cookie", self.set_cookie(COOKIE, visit.cookie)))
        if visit.new_nonce:
            headers.append((b"set-cookie", self.set_cookie(NONCE_COOKIE, visit.nonce)))
        return headers


class SessionMiddleware:
    """Loads the session into `scope["visit"]`; saves what the request added before the
    response starts, and sends the cookie when the id changed."""

    def __init__(self, app: ASGIApp, sessions: Sessions) -> None:
        self.app, self.sessions = app, sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        visit = await self.sessions.load(scope)
        scope["visit"] = visit  # type: ignore[typeddict-unknown-key]

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                try:
                    await self.sessions.save(visit)
                    saved = True
                except Exception as exc:  # Redis away: the page (a 503) still goes out
                    if not is_transient(exc):
                        raise
                    saved = False
                if cookies := self.sessions.cookies(visit, saved):
                    message = {**message, "headers": [*message.get("headers", []), *cookies]}
            await send(message)

        await self.app(scope, receive, send_with_session)


def visit_of(scope: Scope) -> Visit:
    return scope.get("visit") or Visit(None, {})  # type: ignore[return-value]


def _cookie(scope: Scope, cookie: str) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header is just no session
                return None
            if cookie in jar:
                return jar[cookie].value
    return None
