"""Redis memory per 10,000 anonymous page views: what a crawler makes the site store.

    .venv/bin/python bench/site_sessions.py [--views 10000] [--concurrency 16]

Starts its own Redis, SQLite database and one `narcis serve` process on loopback, then sends
`--views` cookie-less GETs of /login, /make, /signup and / and reports how many keys and how
many bytes of Redis memory they left behind (issue 23: each used to store a 7-day session).

Measured on the shared 2-core build machine (load ~3), 10,000 views, 16 at a time:
    before (signed tokens absent): 7,500 keys, 1.95 MiB, kept 7 days; 29.5 s
    after:                          0 keys,    0.07 MiB (allocator noise); 18.9 s
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_server import running_site  # noqa: E402

PAGES = ("/login", "/make", "/signup", "/")


async def views(base: str, count: int, concurrency: int) -> None:
    """`count` GETs, each from a fresh cookie jar, `concurrency` at a time."""
    left = iter(range(count))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for n in left:
                http.cookies.clear()
                response = await http.get(PAGES[n % len(PAGES)])
                response.raise_for_status()

    await asyncio.gather(*(client() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with running_site() as site:
        store = redis.Redis.from_url(site.redis_url)
        asyncio.run(views(site.base, len(PAGES), 1))  # the wall's own cache, once
        keys, memory = store.dbsize(), store.info("memory")["used_memory"]
        started = time.monotonic()
        asyncio.run(views(site.base, args.views, args.concurrency))
        took = time.monotonic() - started
        keys, memory = store.dbsize() - keys, store.info("memory")["used_memory"] - memory
        store.close()
    print(f"{args.views} cookie-less views in {took:.1f} s")
    print(f"Redis: {keys} keys and {memory / 2**20:.2f} MiB more afterwards")
    print(f"per 10,000 views: {memory * 10_000 / args.views / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
