"""Cookies, CSRF, rate limits and allowed hosts, configured in one place from the settings."""

from __future__ import annotations

import hashlib

from litestar.config.allowed_hosts import AllowedHostsConfig
from litestar.config.csrf import CSRFConfig
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.middleware.session.client_side import CookieBackendConfig

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


def hosts_config(settings: Settings) -> AllowedHostsConfig:
    return AllowedHostsConfig(allowed_hosts=list(settings.site_hosts))


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
