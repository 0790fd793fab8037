"""Who is asking: the guest session and account named by the server-side session.

The session only says which account logged in; whether that account still exists and what
its role is are read from the database on each request that needs them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from sqlalchemy import select

from core.store.accounts import create_guest
from core.store.db import Database
from core.store.models import GUEST_TOKENS, GuestSession, UserAccount
from photowall.limits import check_free_start, record_free_start
from photowall.security import client_address
from photowall.sessions import Sessions, session_key, visit_of


@dataclass(frozen=True)
class Visitor:
    guest_id: uuid.UUID | None
    user_id: uuid.UUID | None


def visitor(request: ASGIConnection) -> Visitor:
    visit = visit_of(request.scope)
    guest, user = visit.get("guest"), visit.get("user")
    return Visitor(uuid.UUID(guest) if guest else None, uuid.UUID(user) if user else None)


async def account_of(db: Database, who: Visitor) -> UserAccount | None:
    if who.user_id is None:
        return None
    async with db.session() as session:
        return await session.get(UserAccount, who.user_id)


async def admins_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The role as the database has it now: a demoted admin is refused on the next request."""
    account = await account_of(connection.app.state.services.db, visitor(connection))
    if account is None:
        raise NotAuthorizedException("log in first")
    if account.role != "admin":
        raise PermissionDeniedException("admins only")


async def ensure_guest(request: Request, db: Database) -> uuid.UUID:
    """The visitor's guest session, created on first need. Parallel first requests of one
    browser agree on one guest: each makes a candidate, the session keeps the first, the
    others delete theirs."""
    sessions: Sessions = request.app.state.sessions
    visit = visit_of(request.scope)
    who = visitor(request)
    if who.guest_id is not None:
        async with db.session() as session:
            if await session.get(GuestSession, who.guest_id) is not None:
                return who.guest_id
        visit.data.pop("guest", None)
        await sessions.redis.hdel(session_key(visit.sid), "guest")
    free = who.user_id is None  # a logged-in person's guest is paid by their account
    redis, client = sessions.redis, client_address(request)
    if free:
        await check_free_start(
            redis, client, request.app.state.services.settings.site_free_starts_per_day
        )
    candidate = await create_guest(db, who.user_id)
    won = uuid.UUID(await sessions.claim(visit, "guest", str(candidate.id)))
    if won != candidate.id:
        async with db.session() as session:
            await session.delete(await session.get(GuestSession, candidate.id))
    elif free:
        await record_free_start(redis, client)
    return won


async def owned_guests(db: Database, who: Visitor) -> list[uuid.UUID]:
    """Every guest session of this person: this browser's, and every one their account claimed."""
    guests = {who.guest_id} - {None}
    if who.user_id is not None:
        async with db.session() as session:
            rows = await session.scalars(
                select(GuestSession.id).where(GuestSession.user_id == who.user_id)
            )
            guests |= set(rows.all())
    return sorted(guests)


async def balance(db: Database, who: Visitor) -> int:
    async with db.session() as session:
        if who.user_id is not None:
            account = await session.get(UserAccount, who.user_id)
            return account.tokens if account else 0
        if who.guest_id is not None:
            guest = await session.get(GuestSession, who.guest_id)
            return guest.tokens if guest else 0
    return GUEST_TOKENS  # a first-time visitor gets a guest session on first need
