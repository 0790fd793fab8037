"""Guest sessions, accounts and tokens. Every token change is one atomic statement, and a
login moves a guest's tokens to the account in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import UserInputError
from core.store.db import Database
from core.store.models import GuestSession, UserAccount

_hasher = PasswordHasher()


async def create_guest(db: Database) -> GuestSession:
    async with db.session() as session:
        guest = GuestSession()
        session.add(guest)
    return guest


async def consume_token(
    session: AsyncSession, guest_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> bool:
    """Take one token from an account, or from a live guest session; False when none is left."""
    if user_id is not None:
        statement = (
            update(UserAccount)
            .where(UserAccount.id == user_id, UserAccount.tokens > 0)
            .values(tokens=UserAccount.tokens - 1)
            .returning(UserAccount.id)
        )
    else:
        statement = (
            update(GuestSession)
            .where(
                GuestSession.id == guest_id,
                GuestSession.tokens > 0,
                GuestSession.expires_at > datetime.now(UTC),
            )
            .values(tokens=GuestSession.tokens - 1)
            .returning(GuestSession.id)
        )
    return (await session.execute(statement)).first() is not None


async def refund_token(
    session: AsyncSession, guest_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
) -> None:
    if user_id is not None:
        await session.execute(
            update(UserAccount)
            .where(UserAccount.id == user_id)
            .values(tokens=UserAccount.tokens + 1)
        )
    elif guest_id is not None:
        await session.execute(
            update(GuestSession)
            .where(GuestSession.id == guest_id)
            .values(tokens=GuestSession.tokens + 1)
        )


async def tokens_left(db: Database, guest_id: uuid.UUID) -> int:
    async with db.session() as session:
        guest = await session.get(GuestSession, guest_id)
        return 0 if guest is None else guest.tokens


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise UserInputError("the password needs at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


async def create_account(
    db: Database, email: str, password: str, role: str = "user"
) -> UserAccount:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise UserInputError(f"{email!r} is not an email address")
    async with db.session() as session:
        if await session.scalar(select(UserAccount.id).where(UserAccount.email == email)):
            raise UserInputError(f"an account for {email} exists already")
        account = UserAccount(email=email, password_hash=hash_password(password), role=role)
        session.add(account)
    return account


async def log_in(
    db: Database, email: str, password: str, guest_id: uuid.UUID | None = None
) -> UserAccount:
    """Check the password, then move the guest session's tokens to the account, all in one
    transaction (the original did it as two separate updates and could lose or double them)."""
    async with db.session() as session:
        account = await session.scalar(
            select(UserAccount).where(UserAccount.email == email.strip().lower())
        )
        if account is None or not verify_password(account.password_hash, password):
            raise UserInputError("wrong email or password")
        if guest_id is not None:
            guest = await session.get(GuestSession, guest_id, with_for_update=True)
            if guest is not None and guest.tokens > 0:
                await session.execute(
                    update(UserAccount)
                    .where(UserAccount.id == account.id)
                    .values(tokens=UserAccount.tokens + guest.tokens)
                )
                guest.tokens = 0
            if guest is not None:
                guest.user_id = account.id
        await session.refresh(account)
    return account
