"""Schema migrations with Alembic, driven from code (no alembic.ini to keep in sync)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from core.errors import ConfigError

UPGRADE = "run `narcis db upgrade`"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("core.store").joinpath("migrations")))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str | None:
    """The revision the database is at (None before the first migration)."""
    import asyncio

    from sqlalchemy import inspect, text
    from sqlalchemy.ext.asyncio import create_async_engine

    def read(connection) -> str | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("select version_num from alembic_version")).scalar()

    async def run() -> str | None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@cache
def head() -> str:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@cache
def known() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return frozenset(r.revision for r in script.walk_revisions())


def schema_problem(revision: str | None) -> str | None:
    """What is wrong with a database at `revision` for this code, or None when it is current."""
    if revision == head():
        return None
    if revision is None:
        return f"the database is empty: {UPGRADE}"
    if revision in known():
        return f"the database is at revision {revision}, this code needs {head()}: {UPGRADE}"
    return f"the database is at revision {revision}, which this code does not know (newer code?)"


def require_current(database_url: str) -> None:
    """Raise ConfigError unless the database is at this code's revision."""
    if (problem := schema_problem(current(database_url))) is not None:
        raise ConfigError(problem)
