"""Guest sessions, accounts and tokens. Every token change is one atomic statement, and a
signup moves a guest's tokens to the new account in one transaction."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from datetime import UTC, datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import UserInputError
from core.store.db import Database
from core.store.models import GUEST_TOKENS, GuestSession, Portrait, UserAccount

_hasher = PasswordHasher()


async def create_guest(db: Database, user_id: uuid.UUID | None = None) -> GuestSession:
    """A guest session; one made for a logged-in person belongs to their account at once
    (it pays nothing: their account does) and only holds their uploads."""
    async with db.session() as session:
        guest = GuestSession(user_id=user_id, tokens=0 if user_id else GUEST_TOKENS)
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


@cache
def _dummy_hash() -> str:
    """Checked when the email is unknown, so that a wrong email costs what a wrong password
    costs: the answer's timing does not tell which addresses have accounts."""
    return _hasher.hash(uuid.uuid4().hex)


# Scripts that one language writes together: Japanese mixes kanji and kana, Korean hangul and
# hanja. Any other mix inside one part of an address is a look-alike (a Cyrillic "а" in "pаypal").
_ONE_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "HANGUL": "CJK", "HALFWIDTH": "CJK"}


def email_key(email: str) -> str:
    """How addresses are compared and stored: NFKC-normalised and case-folded, so that two
    addresses that display the same (a full-width "ａ", "Ａ") are one account."""
    return unicodedata.normalize("NFKC", email).casefold().strip()


def normalise_email(email: str) -> str:
    """The address as stored, or UserInputError for what is no address, hides characters
    (direction overrides, zero-width), or mixes alphabets within a name."""
    key = email_key(email)
    if "@" not in key or len(key) > 320 or any(c.isspace() for c in key):
        raise UserInputError(f"{email!r} is not an email address")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in key):
        raise UserInputError(
            "the email address holds invisible or direction-changing characters; type it plainly"
        )
    for part in key.replace("@", ".").split("."):
        if len(_scripts(part)) > 1:
            raise UserInputError(
                f"{part!r} in the email address mixes alphabets (such as Latin and Cyrillic); "
                "type each part in one"
            )
    return key


def _scripts(text: str) -> set[str]:
    names = (unicodedata.name(c, "UNKNOWN").split()[0] for c in text if c.isalpha())
    return {_ONE_SCRIPT.get(name, name) for name in names}


async def create_account(
    db: Database, email: str, password: str, role: str = "user", guest_id: uuid.UUID | None = None
) -> UserAccount:
    """A new account. Its tokens are the signing-up guest's (what is left of their five), or a
    fresh guest's five: signing up before uploading loses nothing, and gains nothing either."""
    email = normalise_email(email)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.session() as session:
        if await session.scalar(select(UserAccount.id).where(UserAccount.email == email)):
            raise UserInputError(f"an account for {email} exists already")
        account = UserAccount(email=email, password_hash=password_hash, role=role)
        guest = await _unclaimed_guest(session, guest_id)
        account.tokens = guest.tokens if guest is not None else GUEST_TOKENS
        session.add(account)
        await session.flush()
        if guest is not None:
            _claim(guest, account)
            # Its tokens came along, so refunds of its jobs go to the account too.
            await session.execute(
                update(Portrait).where(Portrait.session_id == guest.id).values(user_id=account.id)
            )
    return account


async def log_in(
    db: Database, email: str, password: str, guest_id: uuid.UUID | None = None
) -> UserAccount:
    """Check the password; the browser's guest session then belongs to the account.

    A guest's tokens move to an account only when it signs up: moving them at every login let
    anyone farm tokens (log out, upload as a new guest, log in again: +4 each round)."""
    async with db.session() as session:
        account = await session.scalar(
            select(UserAccount).where(UserAccount.email == email_key(email))
        )
    stored = account.password_hash if account is not None else None
    matches = await asyncio.to_thread(verify_password, stored or _dummy_hash(), password)
    if account is None or not matches:
        raise UserInputError("wrong email or password")
    async with db.session() as session:
        guest = await _unclaimed_guest(session, guest_id)
        if guest is not None:
            _claim(guest, account)
    return account


async def _unclaimed_guest(
    session: AsyncSession, guest_id: uuid.UUID | None
) -> GuestSession | None:
    if guest_id is None:
        return None
    guest = await session.get(GuestSession, guest_id, with_for_update=True)
    return guest if guest is not None and guest.user_id is None else None


def _claim(guest: GuestSession, account: UserAccount) -> None:
    """The guest session now belongs to the account (its portraits show on /me and are erased
    with the account's); its tokens were moved or forfeited."""
    guest.user_id, guest.tokens = account.id, 0
