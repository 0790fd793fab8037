"""Optional accounts: sign up, log in (the guest's tokens move over in one transaction), out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Response, Template

from core.errors import UserInputError
from core.store.accounts import create_account, log_in
from photowall.render import render
from photowall.services import Services
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
    return await _log_in(request, services, data, "login")


@post("/signup", name="signup_submit")
async def signup(
    request: Request, services: Services, data: Annotated[Credentials, Form]
) -> Response:
    try:
        await create_account(services.db, data.email, data.password)
    except UserInputError as exc:
        return _error(request, "signup", str(exc))
    return await _log_in(request, services, data, "signup")


async def _log_in(request: Request, services: Services, data: Credentials, mode: str) -> Response:
    try:
        account = await log_in(services.db, data.email, data.password, visitor(request).guest_id)
    except UserInputError as exc:
        return _error(request, mode, str(exc))
    request.session.update({"user": str(account.id), "email": account.email, "role": account.role})
    return Redirect("/me", status_code=303)


@post("/logout", name="logout")
async def logout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect("/", status_code=303)


def _error(request: Request, mode: str, message: str) -> Response:
    return Response(
        render(request, "pages/login.html", error=message, mode=mode),
        status_code=400,
        media_type="text/html; charset=utf-8",
    )
