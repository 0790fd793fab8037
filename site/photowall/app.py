"""`create_app()`: the photowall's routes, plugins, security and error pages in one list."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

from litestar import Litestar, Request
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.logging import LoggingConfig
from litestar.middleware.base import DefineMiddleware
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from core.config import Settings, load_settings
from core.errors import CapacityError, QueueBusy, UserInputError
from core.jobs.outage import BUSY, is_transient
from photowall.checks import PhotoChecker
from photowall.head import HeadMiddleware
from photowall.hits import CachedWallHits
from photowall.news import WallNews
from photowall.pagecache import PageCache
from photowall.render import render
from photowall.routes import accounts, admin, health, make, media, mine, wall
from photowall.security import (
    check_request,
    headers_hook,
    hosts_middleware,
    proxies_middleware,
    upload_rate_limit,
)
from photowall.services import Services
from photowall.sessions import SessionMiddleware, Sessions, visit_of

HERE = Path(__file__).parent
log = logging.getLogger("photowall")


GC_YOUNG = 50_000  # allocations between young collections (Python's default: 700)
SWITCH_INTERVAL_S = 0.0005  # the most a thread waits for the GIL (Python's default: 5 ms)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    services = Services.build(settings)
    sessions = Sessions(
        services.redis, secure=settings.site_https, secret=settings.secret_key.get_secret_value()
    )
    news, checker, pages = WallNews(services.redis), PhotoChecker(), PageCache()

    async def close() -> None:
        checker.close()
        await news.close()
        await services.close()

    def settle() -> None:
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's sweeps, whose pauses otherwise show up as the slowest responses.
        gc.collect()
        gc.freeze()
        # Young collections rarer: each one promotes the objects of requests in flight, and
        # with 10,000 walls open the full sweeps that promotion brings on took 0.5-1 s.
        gc.set_threshold(GC_YOUNG, 20, 10)
        # The loop's thread shares the GIL with helpers whose turns are short (aiosqlite's
        # thread, the thread pool). A helper waiting for the GIL waits up to the switch
        # interval behind a busy loop, and each SQLite statement waits for it twice: at 5 ms
        # (Python's default), /health's one query took 20-60 ms while 10,000 walls closed.
        sys.setswitchinterval(SWITCH_INTERVAL_S)

    app = Litestar(
        route_handlers=[
            wall.wall_page,
            wall.wall_events,
            media.image,
            health.health,
            make.make_page,
            make.make_submit,
            make.job_page,
            make.job_events,
            make.portrait_page,
            mine.my_portraits,
            mine.share,
            mine.erase_mine,
            accounts.login_page,
            accounts.signup_page,
            accounts.login,
            accounts.signup,
            accounts.logout,
            accounts.logout_everywhere,
            admin.admin_page,
            admin.toggle,
            create_static_files_router(
                path="/static", directories=[HERE / "static"], cache_control=None, name="static"
            ),
        ],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        state=State(
            {
                "services": services,
                "sessions": sessions,
                "news": news,
                "checker": checker,
                "pages": pages,
            }
        ),
        template_config=TemplateConfig(
            directory=HERE / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=lambda engine: _template_calls(engine, settings),
        ),
        middleware=[
            hosts_middleware(settings),
            proxies_middleware(settings),
            DefineMiddleware(SessionMiddleware, sessions=sessions),
            upload_rate_limit(settings).middleware,
        ],
        before_request=check_request,
        before_send=[headers_hook(settings)],
        stores={
            "rate_limit": RedisStore.with_client(
                url=settings.redis_url, namespace="narcis:ratelimit"
            )
        },
        exception_handlers={
            UserInputError: _user_error,
            CapacityError: _user_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        logging_config=LoggingConfig(
            loggers={"photowall": {"level": "INFO", "handlers": ["queue_listener"]}},
            log_exceptions="never",  # _server_error logs each one, once, with its traceback
        ),
        on_startup=[settle, news.start],
        on_shutdown=[close],
        request_max_body_size=2**20,
    )
    app.asgi_handler = HeadMiddleware(app.asgi_handler)  # before routing, which answers HEAD 405
    app.asgi_handler = CachedWallHits(app.asgi_handler, news, pages, tuple(settings.site_hosts))
    return app


def _template_calls(engine: JinjaTemplateEngine, settings: Settings) -> None:
    """`csrf_token()` in templates: this session's token (photowall/security.py checks it);
    `absolute(path)`: the URL under the configured public origin, never the request's Host.
    Templates are compiled once and never looked at again (no stat() of their files per
    render): a deploy restarts the server anyway."""
    engine.engine.auto_reload = False
    engine.register_template_callable(
        "csrf_token", lambda context: visit_of(context["request"].scope).csrf_token()
    )
    engine.register_template_callable("absolute", lambda context, path: settings.site_origin + path)


def _user_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, QueueBusy):
        return _page(request, 503, str(exc))
    status = 402 if isinstance(exc, CapacityError) else 400
    return _page(request, status, str(exc))


def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code >= 500:
        return _server_error(request, exc)
    messages = {
        404: "Nothing here.",
        403: "Not allowed.",
        401: "Please log in first.",
        429: "Too many requests; wait a minute.",
        413: "That upload is too large.",
    }
    return _page(request, exc.status_code, messages.get(exc.status_code, exc.detail))


def _server_error(request: Request, exc: Exception) -> Response:
    """An outage (Redis or the database away: "busy, try again", one line in the log) or a
    bug (logged with its traceback); either way our own page."""
    if is_transient(exc):
        log.warning("%s %s: a service is not answering (%s)", request.method, request.url.path, exc)
        return _page(request, 503, BUSY.capitalize() + ".")
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _page(request, 500, "Something went wrong on our side; please try again.")


def _page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request") == "true":
        body = f'<p class="error" role="alert">{_escape(message)}</p>'
    else:
        body = render(request, "pages/error.html", status=status, message=message)
    return Response(body, status_code=status, media_type="text/html")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
