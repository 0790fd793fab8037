"""`narcis users add EMAIL [--role admin]`: accounts for operators and admins."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.common import settings

app = typer.Typer(help="Manage site accounts.", no_args_is_help=True)


@app.command()
def add(
    email: Annotated[str, typer.Argument(help="the account's email address")],
    role: Annotated[str, typer.Option(help="user, operator or admin")] = "user",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Create an account (admins can curate the wall at /admin)."""
    from core.errors import UserInputError
    from core.store.accounts import create_account
    from core.store.db import Database

    if role not in ("user", "operator", "admin"):
        raise UserInputError(f"unknown role {role!r} (user, operator or admin)")

    async def create() -> None:
        db = Database(settings().database)
        try:
            await create_account(db, email, password, role)
        finally:
            await db.dispose()

    asyncio.run(create())
    typer.echo(f"account {email} created ({role})")
