"""`narcis db {upgrade,downgrade,current}`: database migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import settings

app = typer.Typer(
    help="Migrate the database (SQLite by default, PostgreSQL in production).", no_args_is_help=True
)


@app.command()
def upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    from core.store.migrate import current
    from core.store.migrate import upgrade as run

    url = settings().database
    run(url, revision)
    typer.echo(f"database at revision {current(url)}")


@app.command()
def downgrade(revision: Annotated[str, typer.Argument()] = "base") -> None:
    """Undo migrations down to REVISION (default: an empty database)."""
    from core.store.migrate import downgrade as run

    run(settings().database, revision)


@app.command()
def current() -> None:
    """Print the revision the database is at."""
    from core.store.migrate import current as read

    typer.echo(read(settings().database) or "empty (run `narcis db upgrade`)")
