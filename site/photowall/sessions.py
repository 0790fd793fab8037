"""Server-side sessions: the cookie holds only a random id; what it stands for lives in Redis.

A session is one Redis hash, `narcis:session:<id>`, with the fields `csrf` (the form token),
`guest` (the guest session's id) and `user` (the account's id, once logged in). Fields are
written one at a time, never read-modify-written, so parallel requests of one browser cannot
undo each other; the guest is claimed with HSETNX, so they all agree on one.
Each account keeps the set of its sessions, so "log out everywhere" can end them all.
Nothing here trusts the cookie beyond "this id exists in Redis": forging one gains nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis

from core.jobs.outage import is_transient

COOKIE = "narcis_session"
TTL_S = 7 * 24 * 3600
_PREFIX = "narcis:session:"


def session_key(sid: str) -> str:
    return _PREFIX + sid


def user_sessions_key(user_id: str) -> str:
    return f"narcis:user-sessions:{user_id}"


@dataclass
class Visit:
    """This request's session: what Redis held, and what this request adds to it."""

    sid: str | None
    data: dict[str, str]
    pending: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None  # a Set-Cookie value to send, when the id changed

    def get(self, name: str) -> str | None:
        return self.pending.get(name) or self.data.get(name)

    def csrf_token(self) -> str:
        """The session's form token, made (with the session) on first need."""
        token = self.get("csrf")
        if token is None:
            token = self.pending["csrf"] = secrets.token_urlsafe(32)
            if self.sid is None:
                self._new_id()
        return token

    def _new_id(self) -> None:
        self.sid = secrets.token_urlsafe(32)
        self.cookie = self.sid


class Sessions:
    def __init__(self, redis: Redis, secure: bool) -> None:
        self.redis, self.secure = redis, secure

    async def load(self, scope: Scope) -> Visit:
        sid = _cookie(scope)
        data = {}
        if sid:
            raw = await self.redis.hgetall(session_key(sid))
            data = {k.decode(): v.decode() for k, v in raw.items()}
        return Visit(sid if data else None, data)

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
            visit.csrf_token()  # a session to hold it
            await self.save(visit)
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
        visit.pending = {**kept, "user": user_id, "csrf": secrets.token_urlsafe(32)}
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

    def set_cookie(self, visit: Visit) -> bytes:
        parts = [f"{COOKIE}={visit.cookie}", "Path=/", "HttpOnly", "SameSite=Lax"]
        parts.append(f"Max-Age={TTL_S if visit.cookie else 0}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts).encode()


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
                if saved and visit.cookie is not None:
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", self.sessions.set_cookie(visit)))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_session)


def visit_of(scope: Scope) -> Visit:
    return scope.get("visit") or Visit(None, {})  # type: ignore[return-value]


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header is just no session
                return None
            if COOKIE in jar:
                return jar[COOKIE].value
    return None
