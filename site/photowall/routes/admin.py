"""Curation: admins choose what the public wall shows, and can hide any portrait."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.response import Response, Template
from sqlalchemy import select

from core.store.models import Portrait
from photowall.portraits import parse_id
from photowall.render import render
from photowall.services import Services
from photowall.visitor import visitor
from photowall.wall import Wall, to_item


def admins_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    who = visitor(connection)
    if who.user_id is None:
        raise NotAuthorizedException("log in first")
    if not who.is_admin:
        raise PermissionDeniedException("admins only")


@get("/admin", name="admin", guards=[admins_only])
async def admin_page(services: Services) -> Template:
    async with services.db.session() as session:
        rows = (
            await session.scalars(
                select(Portrait)
                .where(Portrait.status == "done")
                .order_by(Portrait.id.desc())
                .limit(200)
            )
        ).all()
    return Template("pages/admin.html", context={"rows": [(p, to_item(p)) for p in rows]})


@post(
    "/admin/portraits/{portrait_id:str}/{flag:str}",
    name="admin_toggle",
    guards=[admins_only],
    status_code=200,
)
async def toggle(request: Request, services: Services, portrait_id: str, flag: str) -> Response:
    if flag not in ("curated", "hidden"):
        raise NotFoundException()
    async with services.db.session() as session:
        portrait = await session.get(Portrait, parse_id(portrait_id))
        if portrait is None:
            raise NotFoundException()
        setattr(portrait, flag, not getattr(portrait, flag))
    await Wall(services.db, services.redis).bump()
    html = render(request, "partials/admin_row.html", portrait=portrait, item=to_item(portrait))
    return Response(html, media_type="text/html; charset=utf-8")
