"""Fixtures the job tests share."""

from __future__ import annotations

import pytest

from core.store.migrate import upgrade
from tests.services import PostgresServer
from tests.stack import Stack


@pytest.fixture
def stoppable_postgres(tmp_path, redis_db_url, tiny_models):
    """A PostgreSQL server of this test's own, which it may stop or make read-only."""
    server = PostgresServer()
    server.create()
    upgrade(server.url)
    built = Stack(tmp_path, server.url, redis_db_url, tiny_models)
    yield server, built
    built.stop_workers()
    server.remove()
