"""One `narcis serve` process on loopback for the site benchmarks, with its own Redis and
SQLite database, and wrk to measure it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.benchkit.web import wrk  # noqa: E402, F401 (the site benchmarks' wrk)
from tests.services import free_port, running_redis  # noqa: E402
from tests.site.seed import seed_portraits  # noqa: E402


@dataclass(frozen=True)
class Site:
    base: str  # http://127.0.0.1:<port>
    port: int
    pid: int
    redis_url: str
    folder: Path  # the data folder, removed afterwards
    env: dict[str, str]  # the server's environment (a worker beside it takes the same)


@contextlib.contextmanager
def running_site(portraits: int = 0, **env: str) -> Iterator[Site]:
    """The server, `portraits` curated portraits on its wall, `env` added to its settings."""
    with tempfile.TemporaryDirectory() as folder, running_redis(Path(folder)) as redis_url:
        env = {**os.environ, "NARCIS_DATA_DIR": folder, "NARCIS_REDIS_URL": redis_url, **env}
        narcis = [sys.executable, "-m", "cli.main"]
        subprocess.run(
            [*narcis, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        if portraits:
            _seed(env, portraits)
        port = free_port()
        server = subprocess.Popen([*narcis, "serve", "--port", str(port)], cwd=ROOT, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            site = Site(base, port, server.pid, redis_url, Path(folder), env)
            _wait(site.base + "/health")
            yield site
        finally:
            server.terminate()
            server.wait(timeout=60)


@contextlib.contextmanager
def running_minimal() -> Iterator[str]:
    """bench/minimal_app.py under the uvicorn settings `narcis serve` uses (cli/serve.py),
    with uvicorn's own httptools protocol: ours (photowall/closing.py) differs only in when
    a connection whose client left is closed, which these throughput runs never see."""
    port = free_port()
    app = ["-m", "uvicorn", "bench.minimal_app:create_app", "--factory", "--port", str(port)]
    options = ["--log-level", "warning", "--no-access-log", "--no-proxy-headers"]
    server = subprocess.Popen(
        [sys.executable, *app, *options, "--no-server-header"],
        cwd=ROOT,
    )
    try:
        _wait(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=60)


def _seed(env: dict[str, str], count: int) -> None:
    os.environ.update({k: v for k, v in env.items() if k.startswith("NARCIS_")})
    from core.config import load_settings
    from core.store.db import Database
    from core.store.factory import make_media

    settings = load_settings()

    async def go() -> None:
        db = Database(settings.database)
        await seed_portraits(db, make_media(settings), count)
        await db.dispose()

    asyncio.run(go())


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")
