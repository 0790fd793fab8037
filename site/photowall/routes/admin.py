"""Curation: admins choose what the public wall shows (of what owners chose to share), and
can hide any portrait."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import ClientException, NotFoundException
from litestar.response import Response, Template
from sqlalchemy import select

from core.store.models import Portrait
from photowall.portraits import parse_id
from photowall.render import render
from photowall.services import Services
from photowall.visitor import admins_only
from photowall.wall import Wall, to_item


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
        if flag == "curated" and not portrait.curated and not _shareable(portrait):
            raise ClientException("its owner has not chosen to share it on the wall")
        setattr(portrait, flag, not getattr(portrait, flag))
        joined = portrait.curated and not portrait.hidden
    # Open walls hear "new portrait" only when one joined: hiding one is no news.
    await Wall(services.db, services.redis).bump(announce=joined and flag == "curated")
    html = render(request, "partials/admin_row.html", portrait=portrait, item=to_item(portrait))
    return Response(html, media_type="text/html")


def _shareable(portrait: Portrait) -> bool:
    """Visitors' portraits need their owner's "share on the wall" (never given for a restyle);
    operators' own (bot, workbench) are theirs to show."""
    return portrait.origin != "web" or portrait.shared
