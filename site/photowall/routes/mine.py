"""A person's own portraits: the list, "share on the wall" afterwards, and "erase all"."""

from __future__ import annotations

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from sqlalchemy import or_, select

from core.store.models import Job, Portrait
from core.store.retention import erase_person
from photowall.portraits import parse_id
from photowall.services import Services
from photowall.visitor import Visitor, account_of, balance, owned_guests, visitor
from photowall.wall import Wall, to_item


def _owner(guests: list, who: Visitor):
    clauses = [Portrait.session_id.in_(guests)]
    if who.user_id is not None:
        clauses.append(Portrait.user_id == who.user_id)
    return or_(*clauses)


@get("/me", name="mine")
async def my_portraits(request: Request, services: Services) -> Template:
    who = visitor(request)
    guests = await owned_guests(services.db, who)
    async with services.db.session() as session:
        portraits = (
            await session.scalars(
                select(Portrait).where(_owner(guests, who)).order_by(Portrait.id.desc()).limit(100)
            )
        ).all()
        jobs = (
            await session.scalars(select(Job).where(Job.id.in_([p.id for p in portraits])))
        ).all()
    restyled = {j.id for j in jobs if j.spec.get("base")}
    account = await account_of(services.db, who)
    return Template(
        "pages/mine.html",
        context={
            "portraits": [(p, to_item(p), p.id not in restyled) for p in portraits],
            "tokens": await balance(services.db, who),
            "email": account.email if account else None,
        },
    )


@post("/me/portraits/{portrait_id:str}/share", name="share")
async def share(request: Request, services: Services, portrait_id: str) -> Redirect:
    """The owner's consent, given or taken back; restyles of their own photo never qualify."""
    who = visitor(request)
    guests = await owned_guests(services.db, who)
    pid = parse_id(portrait_id)
    async with services.db.session() as session:
        portrait = await session.scalar(
            select(Portrait).where(Portrait.id == pid, _owner(guests, who))
        )
        job = await session.get(Job, pid)
        if portrait is None or job is None or job.spec.get("base"):
            raise NotFoundException()
        portrait.shared = not portrait.shared
    if portrait.curated:  # it joins or leaves the wall: cached pages are stale
        await Wall(services.db, services.redis).bump(announce=False)
    return Redirect("/me", status_code=303)


@post("/me/delete", name="erase")
async def erase_mine(request: Request, services: Services) -> Redirect:
    """Everything of this person, from every browser they used, including jobs still queued.
    Safe to repeat: a second erase after a half-done one finishes the job."""
    who = visitor(request)
    guests = await owned_guests(services.db, who)
    if guests or who.user_id is not None:
        await erase_person(
            services.db,
            services.media,
            guests,
            who.user_id,
            services.queue.cancel,
            services.queue.forget,
        )
        # Every cached page, of every version: one may have shown their portrait.
        wall = Wall(services.db, services.redis)
        await wall.forget_pages()
        await wall.bump(announce=False)
    return Redirect("/me", status_code=303)
