"""Who is asking: the guest session (and account, once logged in) kept in the session cookie."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from litestar import Request

from core.store.accounts import create_guest
from core.store.db import Database
from core.store.models import GUEST_TOKENS, GuestSession, UserAccount


@dataclass(frozen=True)
class Visitor:
    guest_id: uuid.UUID | None
    user_id: uuid.UUID | None
    email: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def visitor(request: Request) -> Visitor:
    data = request.session if request.scope.get("session") is not None else {}
    guest, user = data.get("guest"), data.get("user")
    return Visitor(
        uuid.UUID(guest) if guest else None,
        uuid.UUID(user) if user else None,
        data.get("email"),
        data.get("role", "guest"),
    )


async def ensure_guest(request: Request, db: Database) -> uuid.UUID:
    """The visitor's guest session, created (with its 5 tokens) on first need."""
    current = visitor(request).guest_id
    if current is not None:
        async with db.session() as session:
            if await session.get(GuestSession, current) is not None:
                return current
    guest = await create_guest(db)
    request.session["guest"] = str(guest.id)
    return guest.id


async def balance(db: Database, who: Visitor) -> int:
    async with db.session() as session:
        if who.user_id is not None:
            account = await session.get(UserAccount, who.user_id)
            return account.tokens if account else 0
        if who.guest_id is not None:
            guest = await session.get(GuestSession, who.guest_id)
            return guest.tokens if guest else 0
    return GUEST_TOKENS  # a first-time visitor gets a guest session on first need
