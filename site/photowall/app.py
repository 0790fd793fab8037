"""`create_app()`: the photowall's routes, plugins, security and error pages in one list."""

from __future__ import annotations

import gc
from pathlib import Path

from litestar import Litestar, Request
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from core.config import Settings, load_settings
from core.errors import CapacityError, UserInputError
from photowall.render import render
from photowall.routes import accounts, admin, health, make, media, wall
from photowall.security import csrf_config, hosts_middleware, session_config, upload_rate_limit
from photowall.services import Services

HERE = Path(__file__).parent


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or load_settings()
    services = Services.build(settings)

    async def close() -> None:
        await services.close()

    def settle() -> None:
        # Everything loaded so far lives as long as the process: keep it out of the garbage
        # collector's sweeps, whose pauses otherwise show up as the slowest responses.
        gc.collect()
        gc.freeze()

    return Litestar(
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
            make.my_portraits,
            make.erase_mine,
            accounts.login_page,
            accounts.signup_page,
            accounts.login,
            accounts.signup,
            accounts.logout,
            admin.admin_page,
            admin.toggle,
            create_static_files_router(
                path="/static", directories=[HERE / "static"], cache_control=None, name="static"
            ),
        ],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        middleware=[
            hosts_middleware(settings),
            session_config(settings).middleware,
            upload_rate_limit(settings).middleware,
        ],
        csrf_config=csrf_config(settings),
        stores={
            "rate_limit": RedisStore.with_client(
                url=settings.redis_url, namespace="narcis:ratelimit"
            )
        },
        exception_handlers={
            UserInputError: _user_error,
            CapacityError: _user_error,
            HTTPException: _http_error,
        },
        on_startup=[settle],
        on_shutdown=[close],
        request_max_body_size=2**20,
    )


def _user_error(request: Request, exc: Exception) -> Response:
    status = 402 if isinstance(exc, CapacityError) else 400
    return _page(request, status, str(exc))


def _http_error(request: Request, exc: HTTPException) -> Response:
    messages = {
        404: "Nothing here.",
        403: "Not allowed.",
        401: "Please log in first.",
        429: "Too many requests; wait a minute.",
        413: "That upload is too large.",
    }
    return _page(request, exc.status_code, messages.get(exc.status_code, exc.detail))


def _page(request: Request, status: int, message: str) -> Response:
    if request.headers.get("hx-request") == "true":
        body = f'<p class="error" role="alert">{_escape(message)}</p>'
    else:
        body = render(request, "pages/error.html", status=status, message=message)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
