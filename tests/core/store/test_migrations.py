import pytest

from core.store.migrate import current, downgrade, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    return request.getfixturevalue("postgres_url")


def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    assert current(database_url) is None
    upgrade(database_url)
    assert current(database_url) == "0002"
    downgrade(database_url)
    assert current(database_url) is None
    upgrade(database_url)
    assert current(database_url) == "0002"
    downgrade(database_url)  # leave the shared PostgreSQL database empty for other tests
