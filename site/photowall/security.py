"""Allowed hosts, CSRF, security headers and the upload rate limit, configured from the settings.

CSRF: every unsafe request carries a token signed for this browser's nonce cookie and its
session (a form field or the `x-csrftoken` header; photowall/sessions.py makes and checks it)
and, when the browser names where it comes from (Origin, or else Referer), that is this site.
"""

from __future__ import annotations

import ipaddress
import re
from fnmatch import fnmatch
from urllib.parse import urlsplit

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Settings
from photowall.sessions import visit_of

CSRF_FIELD = "_csrf_token"
CSRF_HEADER = "x-csrftoken"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Scripts and styles from our own static files only (htmx included); no frames, no plugins.
# Inline styles stay allowed: htmx and the progress bar set them, and they cannot run code.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "same-origin",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if settings.site_https:
        headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
    return [(k.encode(), v.encode()) for k, v in headers.items()]


def headers_hook(settings: Settings):
    """A `before_send` hook: the same headers on every response the app sends, pages, errors
    (404s for unknown paths too, which no middleware sees), static files and streams."""
    headers = security_headers(settings)

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *headers]

    return add_headers


async def check_request(request: Request) -> None:
    """Before every handler: no NUL bytes in paths (a file-system error otherwise), and the
    CSRF rules above for every unsafe method."""
    if "\x00" in request.url.path:
        raise NotFoundException()
    if request.method in SAFE_METHODS:
        return
    _check_origin(request)
    given = request.headers.get(CSRF_HEADER)
    if given is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not given or not visit_of(request.scope).csrf_matches(given):
        raise PermissionDeniedException("CSRF token missing or not this session's")


def _check_origin(request: Request) -> None:
    """The browser's Origin (or Referer) is this site: as the request names it, or as the
    configured public origin does."""
    claimed = request.headers.get("origin") or request.headers.get("referer")
    if claimed is None:
        return  # not a browser, or one that hides both: the session's token still decides
    public = urlsplit(request.app.state.services.settings.site_origin).netloc
    ours = {request.headers.get("host", "").lower(), public}
    if claimed == "null" or urlsplit(claimed).netloc.lower() not in ours:
        raise PermissionDeniedException(f"cross-site request from {claimed!r} refused")


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded"))


def hosts_middleware(settings: Settings) -> DefineMiddleware:
    """Refuse requests for hosts we do not serve, and any Host header that is not a plain
    name or address with a valid port (`127.0.0.1:80@evil.example`, `127.0.0.1:99999`). The
    port is not compared: 127.0.0.1:8000 is 127.0.0.1 (Litestar's own check compares it too,
    which breaks any non-80 port)."""
    return DefineMiddleware(AllowedHostsMiddleware, patterns=tuple(settings.site_hosts))


class AllowedHostsMiddleware:
    def __init__(self, app: ASGIApp, patterns: tuple[str, ...]) -> None:
        self.app, self.patterns = app, patterns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        web = scope["type"] in ("http", "websocket")
        if web and not serves(self.patterns, dict(scope["headers"]).get(b"host", b"")):
            response = ASGIResponse(
                body=b"invalid host header", status_code=400, media_type="text/plain"
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def proxies_middleware(settings: Settings) -> DefineMiddleware:
    """The client's address: the peer's, or, from a configured proxy only, the last address
    in X-Forwarded-For that is not one of our proxies. Anyone else's header is ignored (it
    would give each request a fresh address, and so fresh limits)."""
    networks = tuple(ipaddress.ip_network(p, strict=False) for p in settings.site_proxies)
    return DefineMiddleware(ClientAddressMiddleware, proxies=networks)


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, proxies: tuple[Network, ...]) -> None:
        self.app, self.proxies = app, proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if self.proxies and peer and self._is_proxy(peer[0]):
            forwarded = [
                value.decode("latin-1")
                for name, value in scope["headers"]
                if name == b"x-forwarded-for"
            ]
            hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
            for hop in reversed(hops):
                if not self._is_proxy(hop):
                    scope["client"] = (hop, 0) if _is_address(hop) else peer
                    break
        await self.app(scope, receive, send)

    def _is_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.proxies)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def client_address(request: ASGIConnection) -> str:
    return request.client.host if request.client else "unknown"


_HOST = re.compile(r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(?P<port>\d{1,5}))?")


def serves(patterns: tuple[str, ...], host: bytes) -> bool:
    """Whether a Host header names a host we serve (and is well formed)."""
    name = host_name(host.decode("latin-1"))
    return name is not None and any(fnmatch(name, p) for p in patterns)


def host_name(host: str) -> str | None:
    """The name in a Host header (lower case), or None when the header is malformed."""
    match = _HOST.fullmatch(host.lower())
    if match is None or (match["port"] and not 0 < int(match["port"]) < 65536):
        return None
    return match["name"]


def upload_rate_limit(settings: Settings) -> RateLimitConfig:
    """Generating, per client: cheap to ask, costly to serve. Logging in has its own limits
    (photowall/limits.py), so a visitor who mistypes a password can still make a portrait."""
    return RateLimitConfig(
        rate_limit=("minute", settings.site_uploads_per_minute),
        store="rate_limit",
        check_throttle_handler=lambda request: (
            request.method == "POST" and request.url.path == "/make"
        ),
    )
