"""Login limits for the workbench's password page, as the site has them: per client address
(every attempt) and per user name (failures only), each a fixed window. A guesser spread over
many addresses still meets the user's limit; one address cannot try many names.

The workbench is one process, so the counts live in memory (guarded by a lock: Gradio serves
requests from several threads), and the tables are bounded: expired windows are dropped, and
past `MAX_KEYS` the oldest go first. Gradio's `/login` route knows no client address, so an
ASGI middleware in front of it counts, refuses with 429, and sees the outcome (400 = failed).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ATTEMPTS_PER_MINUTE = 10  # per client address, successes and failures alike
FAILURES_PER_USER = 5  # per user name, in WINDOW_S
WINDOW_S = 15 * 60
MAX_KEYS = 10_000  # per table: what one flood of addresses or names can make us keep
MAX_FORM_BYTES = 16 * 1024
LOGIN_PATHS = frozenset({"/login", "/login/"})


@dataclass
class _Window:
    start: float
    count: int = 0


class _Counter:
    """Counts per key in fixed windows of `window_s`."""

    def __init__(self, window_s: float, clock: Callable[[], float]) -> None:
        self.window_s, self.clock = window_s, clock
        self._windows: dict[str, _Window] = {}

    def count(self, key: str) -> int:
        window = self._windows.get(key)
        if window is None or self.clock() - window.start >= self.window_s:
            return 0
        return window.count

    def hit(self, key: str) -> int:
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= self.window_s:
            self._windows.pop(key, None)  # re-inserted last: the dict stays oldest first
            window = self._windows[key] = _Window(now)
            self._bound(now)
        window.count += 1
        return window.count

    def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    def _bound(self, now: float) -> None:
        if len(self._windows) <= MAX_KEYS:
            return
        for key in [k for k, w in self._windows.items() if now - w.start >= self.window_s]:
            del self._windows[key]
        while len(self._windows) > MAX_KEYS:
            del self._windows[next(iter(self._windows))]


class LoginLimits:
    def __init__(
        self,
        attempts_per_minute: int = ATTEMPTS_PER_MINUTE,
        failures_per_user: int = FAILURES_PER_USER,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts_per_minute, self.failures_per_user = attempts_per_minute, failures_per_user
        self.window_s = window_s
        self._attempts = _Counter(60, clock)
        self._failures = _Counter(window_s, clock)
        self._lock = threading.Lock()

    def attempt(self, client: str, user: str) -> str | None:
        """Count an attempt; why it is refused, or None to let it through."""
        with self._lock:
            if self._attempts.hit(client) > self.attempts_per_minute:
                return "too many login attempts from here; wait a minute"
            if self._failures.count(user.lower()) >= self.failures_per_user:
                return f"too many failed logins for {user}; wait {self.window_s // 60:.0f} minutes"
        return None

    def outcome(self, user: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failures.clear(user.lower())
            else:
                self._failures.hit(user.lower())


class LoginGuard:
    """ASGI middleware: `LoginLimits` around Gradio's POST /login."""

    def __init__(self, app: ASGIApp, limits: LoginLimits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        body, replay = await _buffered(receive)
        user = (parse_qs(body.decode("latin-1")).get("username") or [""])[0].strip()
        client = (scope.get("client") or ("unknown",))[0]
        refusal = self.limits.attempt(client, user)
        if refusal is not None:
            await _refuse(send, refusal)
            return

        async def observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.limits.outcome(user, ok=message["status"] < 400)
            await send(message)

        await self.app(scope, replay, observed)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The request body (a login form: bytes), and a `receive` that hands it over again."""
    chunks, more, size = [], True, 0
    while more and size <= MAX_FORM_BYTES:  # a login form is a few dozen bytes
        message = await receive()
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
    body, sent = b"".join(chunks)[:MAX_FORM_BYTES], False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _refuse(send: Send, reason: str) -> None:
    payload = json.dumps({"detail": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"60")]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
