"""One `narcis serve` process on loopback for the site benchmarks, with its own Redis and
SQLite database, and wrk to measure it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
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

from tests.services import free_port, running_redis  # noqa: E402
from tests.site.seed import seed_portraits  # noqa: E402


@dataclass(frozen=True)
class Site:
    base: str  # http://127.0.0.1:<port>
    port: int
    pid: int
    redis_url: str
    folder: Path  # the data folder, removed afterwards


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
            site = Site(f"http://127.0.0.1:{port}", port, server.pid, redis_url, Path(folder))
            _wait(site.base + "/health")
            yield site
        finally:
            server.terminate()
            server.wait(timeout=60)


def wrk(url: str, seconds: int, connections: int, *extra: str) -> dict[str, float]:
    """Requests per second and the p50 and p99 latencies (ms) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {
        p: _ms(re.search(rf"^\s+{p}%\s+([\d.]+\w+)", out, re.M).group(1)) for p in ("50", "99")
    }
    return {"req/s": rate, "p50 ms": latency["50"], "p99 ms": latency["99"]}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


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
