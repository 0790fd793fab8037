import pytest
from alembic.script import ScriptDirectory

from core.store.migrate import alembic_config, current, downgrade, upgrade


def head() -> str:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres_url")


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    assert current(database_url) is None
    upgrade(database_url)
    assert current(database_url) == head()
    downgrade(database_url)
    assert current(database_url) is None
    upgrade(database_url)
    assert current(database_url) == head()
    downgrade(database_url)  # leave the shared PostgreSQL database empty for other tests


def test_likeness_columns_come_and_go(database_url: str) -> None:
    import asyncio

    from sqlalchemy import inspect
    from sqlalchemy.ext.asyncio import create_async_engine

    def columns() -> set[str]:
        async def read() -> set[str]:
            engine = create_async_engine(database_url)
            async with engine.connect() as connection:
                names = await connection.run_sync(
                    lambda c: {col["name"] for col in inspect(c).get_columns("portrait")}
                )
            await engine.dispose()
            return names

        return asyncio.run(read())

    upgrade(database_url)
    assert {"likeness", "likeness_analyzer", "prompt_score"} <= columns()
    downgrade(database_url, "0001")
    assert not {"likeness", "likeness_analyzer", "prompt_score"} & columns()
    downgrade(database_url)
