import asyncio
import time

import pytest

from core.errors import UserInputError
from core.store.accounts import (
    consume_token,
    create_account,
    create_guest,
    log_in,
    refund_token,
    tokens_left,
)
from core.store.db import Database
from core.store.models import GuestSession


def run(database_url, work):
    async def go():
        db = Database(database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_guest_gets_five_tokens_for_seven_days(database_url) -> None:
    async def work(db):
        guest = await create_guest(db)
        return guest.tokens, round((guest.expires_at - guest.created_at).total_seconds() / 86400)

    assert run(database_url, work) == (5, 7)


def test_tokens_run_out_and_come_back(database_url) -> None:
    async def work(db):
        guest = await create_guest(db)
        taken = []
        for _ in range(6):
            async with db.session() as session:
                taken.append(await consume_token(session, guest.id))
        async with db.session() as session:
            await refund_token(session, guest.id)
        return taken, await tokens_left(db, guest.id)

    assert run(database_url, work) == ([True] * 5 + [False], 1)


def test_signup_carries_the_guest_tokens_and_login_never_adds_any(database_url) -> None:
    async def work(db):
        guest = await create_guest(db)
        async with db.session() as session:
            await consume_token(session, guest.id)
        account = await create_account(db, "Ada@Example.org", "correct horse", guest_id=guest.id)
        # The farming round of issue 14: log out, spend as a new guest, log in again.
        farmer = await create_guest(db)
        async with db.session() as session:
            await consume_token(session, farmer.id)
        logged = await log_in(db, "ada@example.org", "correct horse", farmer.id)
        early = await create_account(db, "bo@example.org", "correct horse")  # before any upload
        async with db.session() as session:
            stored_guest = await session.get(GuestSession, guest.id)
            stored_farmer = await session.get(GuestSession, farmer.id)
            return (
                account.tokens,
                logged.tokens,
                stored_guest.tokens,
                stored_farmer.tokens,
                stored_farmer.user_id == account.id,
                early.tokens,
            )

    assert run(database_url, work) == (4, 4, 0, 0, True, 5)


def test_wrong_password_and_duplicate_email_are_refused(database_url) -> None:
    async def work(db):
        await create_account(db, "bo@example.org", "long enough")
        with pytest.raises(UserInputError, match="wrong email or password"):
            await log_in(db, "bo@example.org", "not it at all")
        with pytest.raises(UserInputError, match="exists already"):
            await create_account(db, "BO@example.org", "another one")
        with pytest.raises(UserInputError, match="at least 8"):
            await create_account(db, "cy@example.org", "short")
        account = await log_in(db, "bo@example.org", "long enough")
        return account.password_hash.startswith("$argon2")

    assert run(database_url, work)


@pytest.mark.serial
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_password_checks_leave_the_event_loop_free(database_url) -> None:
    """argon2 takes tens of milliseconds of CPU: run on the loop, it stalled every request."""

    async def work(db):
        await create_account(db, "ada@example.org", "correct horse")
        stalls = []

        async def tick() -> None:
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.001)
                stalls.append(time.perf_counter() - before)

        ticker = asyncio.create_task(tick())
        start = time.perf_counter()
        for _ in range(3):
            await log_in(db, "ada@example.org", "correct horse")
            with pytest.raises(UserInputError):
                await log_in(db, "nobody@example.org", "correct horse")
        took = (time.perf_counter() - start) / 6
        ticker.cancel()
        return took, max(stalls)

    took, worst = run(database_url, work)
    assert worst < took, (took, worst)  # main: one whole verify, about twice `took`


LOOK_ALIKES = [
    ("pаypal@example.com", "mixes alphabets"),  # a Cyrillic "а" among Latin letters
    ("ada@exаmple.com", "mixes alphabets"),
    ("ada\u202e@example.org", "direction-changing"),  # a right-to-left override
    ("a\u200bda@example.org", "invisible"),  # a zero-width space
    ("ada lovelace@example.org", "not an email address"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("email,message", LOOK_ALIKES)
def test_look_alike_addresses_are_refused_clearly(email, message, database_url) -> None:
    with pytest.raises(UserInputError, match=message):
        run(database_url, lambda db: create_account(db, email, "long enough"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_addresses_that_display_the_same_are_one_account(database_url) -> None:
    async def work(db):
        first = await create_account(db, "Ada@Example.org", "long enough")
        refused = []
        for same in ("ada@example.org", "ＡＤＡ@example.org", "ada@EXAMPLE.ORG "):
            try:
                await create_account(db, same, "long enough")
            except UserInputError as exc:
                refused.append("exists already" in str(exc))
        logged_in = await log_in(db, "ａｄａ@ｅｘａｍｐｌｅ.org", "long enough")
        idn = await create_account(db, "ivan@почта.рф", "long enough")  # one script per part
        return first.email, refused, logged_in.id == first.id, idn.email

    assert run(database_url, work) == (
        "ada@example.org",
        [True, True, True],
        True,
        "ivan@почта.рф",
    )
