"""Requests per second and latency of the photowall, cached and uncached, in one run.

    .venv/bin/python bench/site_wall.py [--seconds 10] [--connections 32]

Starts its own Redis, SQLite database and one `narcis serve` process on loopback, seeds 60
curated portraits, then points wrk at: the cached wall page, a cached htmx fragment, and an
uncached render (a new cursor each request, so every request queries and renders).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.services import free_port, running_redis  # noqa: E402
from tests.site.seed import seed_portraits  # noqa: E402

UNCACHED_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, string.format("/?cursor=ffffffff-ffff-7fff-bfff-%012d", counter))
end
"""


def wrk(url: str, seconds: int, connections: int, *extra: str) -> dict[str, float]:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, running_redis(Path(folder)) as redis_url:
        env = {**os.environ, "NARCIS_DATA_DIR": folder, "NARCIS_REDIS_URL": redis_url}
        subprocess.run(
            [sys.executable, "-m", "cli.main", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        _seed(env)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base + "/health")
            cursor = re.search(
                r"cursor=([0-9a-f-]{36})", urllib.request.urlopen(base + "/").read().decode()
            ).group(1)
            for warm in (base + "/", f"{base}/?cursor={cursor}"):  # fill the caches first
                urllib.request.urlopen(urllib.request.Request(warm, headers={"HX-Request": "true"}))
                urllib.request.urlopen(warm)
            lua = Path(folder) / "uncached.lua"
            lua.write_text(UNCACHED_LUA)
            rows = {
                "wall page, cached": wrk(base + "/", args.seconds, args.connections),
                "fragment, cached": wrk(
                    f"{base}/?cursor={cursor}",
                    args.seconds,
                    args.connections,
                    "-H",
                    "HX-Request: true",
                ),
                "wall page, uncached": wrk(
                    base + "/", args.seconds, args.connections, "-s", str(lua)
                ),
            }
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"\nphotowall, one server process, {args.connections} connections, {args.seconds} s each")
    print(f"{'':24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in rows.items():
        print(f"{name:24}{row['req/s']:>10.0f}{row['p50 ms']:>10.2f}{row['p99 ms']:>10.2f}")


def _seed(env: dict[str, str]) -> None:
    os.environ.update({k: v for k, v in env.items() if k.startswith("NARCIS_")})
    from core.config import load_settings
    from core.store.db import Database
    from core.store.factory import make_media

    settings = load_settings()

    async def go() -> None:
        db = Database(settings.database)
        await seed_portraits(db, make_media(settings), 60)
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


if __name__ == "__main__":
    main()
