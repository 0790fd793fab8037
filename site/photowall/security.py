"""Cookies, CSRF, rate limits and allowed hosts, configured in one place from the settings."""

from __future__ import annotations

import hashlib
from fnmatch import fnmatch

from litestar.config.csrf import CSRFConfig
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

from core.config import Settings

CSRF_FIELD = "_csrf_token"
CSRF_HEADER = "x-csrftoken"


def _key(settings: Settings, purpose: str) -> bytes:
    secret = settings.secret_key.get_secret_value()
    return hashlib.sha256(f"{purpose}:{secret}".encode()).digest()


def session_config(settings: Settings) -> CookieBackendConfig:
    return CookieBackendConfig(
        secret=_key(settings, "session"),
        key="narcis_session",
        max_age=7 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.site_https,
    )


def csrf_config(settings: Settings) -> CSRFConfig:
    return CSRFConfig(
        secret=_key(settings, "csrf").hex(),
        cookie_name="narcis_csrf",
        header_name=CSRF_HEADER,
        cookie_secure=settings.site_https,
        cookie_samesite="lax",
        exclude=["/health"],
    )


def hosts_middleware(settings: Settings) -> DefineMiddleware:
    """Refuse requests for hosts we do not serve (the port is ignored: 127.0.0.1:8000 is
    127.0.0.1). Litestar's own check compares the port too, which breaks any non-80 port."""
    return DefineMiddleware(AllowedHostsMiddleware, patterns=tuple(settings.site_hosts))


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, patterns: tuple[str, ...]) -> None:
        self.app, self.patterns = app, patterns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not any(fnmatch(name.lower(), p) for p in self.patterns):
                response = ASGIResponse(
                    body=b'{"message":"invalid host header"}',
                    status_code=400,
                    media_type="application/json",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


THROTTLED = frozenset({"/make", "/login", "/signup"})


def upload_rate_limit(settings: Settings) -> RateLimitConfig:
    """Generating, logging in and signing up, per client: cheap to ask, costly to serve."""
    return RateLimitConfig(
        rate_limit=("minute", settings.site_uploads_per_minute),
        store="rate_limit",
        check_throttle_handler=lambda request: (
            request.method == "POST" and request.url.path in THROTTLED
        ),
    )
