"""Requests per second and latency of the photowall, cached and uncached, in one run.

    .venv/bin/python bench/site_wall.py [--seconds 10] [--connections 32]

Starts its own Redis, SQLite database and one `narcis serve` process on loopback, seeds 60
curated portraits, then points wrk at: the cached wall page, a cached htmx fragment, and an
uncached render (a new cursor each request, so every request queries and renders).
"""

from __future__ import annotations

import argparse
import re
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_server import running_site, wrk  # noqa: E402

UNCACHED_LUA = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, string.format("/?cursor=ffffffff-ffff-7fff-bfff-%012d", counter))
end
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    with running_site(portraits=60) as site:
        base = site.base
        cursor = re.search(
            r"cursor=([0-9a-f-]{36})", urllib.request.urlopen(base + "/").read().decode()
        ).group(1)
        for warm in (base + "/", f"{base}/?cursor={cursor}"):  # fill the caches first
            urllib.request.urlopen(urllib.request.Request(warm, headers={"HX-Request": "true"}))
            urllib.request.urlopen(warm)
        lua = site.folder / "uncached.lua"
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
            "wall page, uncached": wrk(base + "/", args.seconds, args.connections, "-s", str(lua)),
        }
    print(f"\nphotowall, one server process, {args.connections} connections, {args.seconds} s each")
    print(f"{'':24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in rows.items():
        print(f"{name:24}{row['req/s']:>10.0f}{row['p50 ms']:>10.2f}{row['p99 ms']:>10.2f}")


if __name__ == "__main__":
    main()
