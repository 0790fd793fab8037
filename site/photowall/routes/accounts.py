"""Optional accounts: sign up (the guest's tokens move over), log in, log out here or everywhere."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from core.errors import CapacityError, UserInputError
from core.store.accounts import create_account, log_in
from core.store.models import GuestSession
from photowall.limits import (
    TooManyAttempts,
    check_free_start,
    check_login,
    record_failure,
    record_free_start,
    record_session,
)
from photowall.render import render
from photowall.security import client_address
from photowall.services import Services
from photowall.sessions import Sessions, visit_of
from photowall.visitor import visitor

Form = Body(media_type=RequestEncodingType.URL_ENCODED)


@dataclass
class Credentials:
    email: str = ""
    password: str = ""


@get("/login", name="login")
async def login_page() -> Template:
    return Template("pages/login.html", context={"error": None, "mode": "login"})


@get("/signup", name="signup")
async def signup_page() -> Template:
    return Template("pages/login.html", context={"error": None, "mode": "signup"})


@post("/login", name="login_submit")
async def login(
    request: Request, services: Services, data: Annotated[Credentials, Form]
) -> Response:
    client = client_address(request)
    try:
        await check_login(services.redis, client, data.email)
        account = await log_in(services.db, data.email, data.password, visitor(request).guest_id)
    except TooManyAttempts as exc:
        return _error(request, "login", str(exc), 429)
    except UserInputError as exc:
        await record_failure(services.redis, client, data.email)
        return _error(request, "login", str(exc))
    return await _logged_in(request, services, account.id)


@post("/signup", name="signup_submit")
async def signup(
    request: Request, services: Services, data: Annotated[Credentials, Form]
) -> Response:
    client, guest_id = client_address(request), visitor(request).guest_id
    free_start = guest_id is None  # the account gets a new guest's five tokens
    try:
        await check_login(services.redis, client, data.email)
        if free_start:
            await check_free_start(
                services.redis, client, services.settings.site_free_starts_per_day
            )
        account = await create_account(services.db, data.email, data.password, guest_id=guest_id)
    except TooManyAttempts as exc:
        return _error(request, "signup", str(exc), 429)
    except (UserInputError, CapacityError) as exc:
        return _error(request, "signup", str(exc))
    if free_start:
        await record_free_start(services.redis, client)
    return await _logged_in(request, services, account.id)


async def _logged_in(request: Request, services: Services, user_id: uuid.UUID) -> Redirect:
    sessions: Sessions = request.app.state.sessions
    guest_id = visitor(request).guest_id
    keep = False
    if guest_id is not None:  # someone else's guest (a shared browser) is not carried over
        async with services.db.session() as session:
            guest = await session.get(GuestSession, guest_id)
        keep = guest is not None and guest.user_id == user_id
    await sessions.log_in(visit_of(request.scope), str(user_id), keep_guest=keep)
    await record_session(services.redis, client_address(request))
    return Redirect("/me", status_code=303)


@post("/logout", name="logout")
async def logout(request: Request) -> Redirect:
    sessions: Sessions = request.app.state.sessions
    await sessions.log_out(visit_of(request.scope))
    return Redirect("/", status_code=303)


@post("/logout/everywhere", name="logout_everywhere")
async def logout_everywhere(request: Request) -> Redirect:
    """End this account's sessions in every browser (a lost phone, a shared computer)."""
    sessions: Sessions = request.app.state.sessions
    who = visitor(request)
    if who.user_id is not None:
        await sessions.log_out_everywhere(str(who.user_id))
    await sessions.log_out(visit_of(request.scope))
    return Redirect("/", status_code=303)


def _error(request: Request, mode: str, message: str, status: int = 400) -> Response:
    return Response(
        render(request, "pages/login.html", error=message, mode=mode),
        status_code=status,
        media_type="text/html",
    )
