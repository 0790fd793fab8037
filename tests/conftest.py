"""Shared fixtures: offline, one thread, one tiny model set per test session."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.modelkit.tiny import build_tiny

    root = tmp_path_factory.mktemp("models")
    build_tiny(root, seed=0)
    return root


@pytest.fixture(scope="session")
def components(tiny_models: Path):
    from core.diffusion.components import load_sdxl
    from core.modelkit.layout import ModelLayout

    return load_sdxl(ModelLayout(tiny_models), torch.device("cpu"), torch.float32)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated NARCIS_DATA_DIR for tests that load settings."""
    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.fixture(scope="session")
def astronaut():
    """scikit-image's astronaut: one real face, public domain."""
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def camera():
    """scikit-image's cameraman seen from behind the camera: no detectable face."""
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.camera()).convert("RGB")


@pytest.fixture(scope="session")
def analyzer():
    from core.diffusion.faces.backends import shared_dlib

    return shared_dlib()


@pytest.fixture(scope="session")
def portrait_pipeline(tiny_models: Path):
    """The real two-stage pipeline on the tiny models (LoRA fused into its own UNet copy)."""
    from core.diffusion.portrait import PortraitPipeline
    from core.modelkit.layout import ModelLayout

    return PortraitPipeline.load(ModelLayout(tiny_models), torch.device("cpu"), torch.float32)


@pytest.fixture(scope="session")
def embedder():
    from core.prompt.embedding import default_embedder

    return default_embedder()


@pytest.fixture(scope="session")
def offline_composer(embedder):
    from core.prompt.offline import OfflineComposer

    return OfflineComposer(embedder)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free loopback port, for this test session only."""
    from tests.services import running_redis

    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this test session."""
    from tests.services import running_postgres

    with running_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, migrated database of each kind."""
    from core.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'narcis.db'}"
    else:
        url = _fresh_postgres_database(request.getfixturevalue("postgres_url"), tmp_path.name)
    upgrade(url)
    return url


def _fresh_postgres_database(server_url: str, name: str) -> str:
    import asyncio
    import re

    import asyncpg

    database = "t_" + re.sub(r"[^a-z0-9]", "_", name.lower())[-50:]
    admin = server_url.replace("postgresql+asyncpg", "postgresql")

    async def create() -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{database}"')
            await connection.execute(f'CREATE DATABASE "{database}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return server_url.rsplit("/", 1)[0] + f"/{database}"


@pytest.fixture
def redis_db_url(redis_url):
    """An empty Redis database for one test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture
def stack(tmp_path, database_url, redis_db_url, tiny_models):
    from tests.stack import Stack

    built = Stack(tmp_path, database_url, redis_db_url, tiny_models)
    yield built
    built.stop_workers()


@pytest.fixture
def site_env() -> dict[str, str]:
    """Settings a test adds to its `site` (override by parametrizing `site_env`)."""
    return {}


@pytest.fixture
def site(tmp_path, redis_db_url, monkeypatch, site_env):
    """The photowall app on a fresh SQLite database and Redis, with a Litestar test client."""
    from litestar.testing import TestClient
    from photowall.app import create_app

    from core.config import load_settings
    from core.store.migrate import upgrade
    from tests.site.client import SiteClient

    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NARCIS_REDIS_URL", redis_db_url)
    monkeypatch.setenv("NARCIS_SITE_UPLOADS_PER_MINUTE", "100")
    for name, value in site_env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    upgrade(settings.database)
    with TestClient(app=create_app(settings), base_url="http://127.0.0.1") as client:
        yield SiteClient(client, settings)
