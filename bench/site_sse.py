"""Many idle walls on one server process: SSE streams held, news fanned out, `/` throughput.

    .venv/bin/python bench/site_sse.py [--streams 10000] [--seconds 10] [--connections 32]

Starts its own Redis, SQLite database and one `narcis serve` process on loopback, seeds 60
curated portraits, measures the cached wall page with wrk, then opens `--streams` idle
`/events/wall` streams and measures it again while they are held. Reports the server's file
descriptors and memory, Redis's clients and subscriptions, and how long one "new portrait"
took to reach every open wall. Needs a file-descriptor limit above the stream count for both
this process and the server (the systemd unit sets LimitNOFILE; here `ulimit -n`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_server import running_site, wrk  # noqa: E402

CHANNEL = "narcis:wall:new"


async def open_streams(port: int, count: int, batch: int = 500) -> list:
    """`count` idle SSE connections, opened `batch` at a time (the listen backlog is finite)."""
    streams = []

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /events/wall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status = await asyncio.wait_for(reader.readline(), 60)
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        return reader, writer

    for start in range(0, count, batch):
        streams += await asyncio.gather(*(one() for _ in range(min(batch, count - start))))
    return streams


async def fan_out(streams: list, redis_url: str) -> float:
    """Seconds from one publish until every open wall has shown '1 new portrait'."""
    from redis.asyncio import Redis

    async def hears(reader) -> None:
        while b"1 new portrait" not in await asyncio.wait_for(reader.readline(), 120):
            pass

    client = Redis.from_url(redis_url)
    start = time.perf_counter()
    await client.publish(CHANNEL, "1")
    await asyncio.gather(*(hears(reader) for reader, _ in streams))
    took = time.perf_counter() - start
    await client.aclose()
    return took


async def redis_facts(redis_url: str) -> tuple[int, int]:
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    clients = (await client.info("clients"))["connected_clients"]
    subscriptions = (await client.pubsub_numsub(CHANNEL))[0][1]
    await client.aclose()
    return clients, subscriptions


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def idle_cpu(pid: int, seconds: float) -> float:
    """The server's CPU use, in % of one core, while the streams sit idle (keep-alives only)."""
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return 100 * (cpu_seconds(pid) - before) / seconds


def process_facts(pid: int) -> tuple[int, float]:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])
    return fds, rss_kb / 1024


async def measure(args, base: str, port: int, redis_url: str, pid: int) -> dict:
    rows = {"idle server": wrk(base + "/", args.seconds, args.connections)}
    before = process_facts(pid)
    started = time.perf_counter()
    streams = await open_streams(port, args.streams)
    opened = time.perf_counter() - started
    held = process_facts(pid)
    clients, subscriptions = await redis_facts(redis_url)
    idle_load = await idle_cpu(pid, 40)  # longer than one keep-alive period
    loop = asyncio.get_running_loop()
    for run in ("first", "second"):  # the first run follows the opening closely
        rows[f"streams held, {run} run"] = await loop.run_in_executor(
            None, wrk, base + "/", args.seconds, args.connections
        )
    reach = await fan_out(streams, redis_url)
    for _, writer in streams:
        writer.close()
    return {
        "rows": rows,
        "opened_s": opened,
        "fds": (before[0], held[0]),
        "rss_mb": (before[1], held[1]),
        "redis_clients": clients,
        "subscriptions": subscriptions,
        "fan_out_s": reach,
        "idle_cpu": idle_load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.streams + 1000:
        raise SystemExit(f"the file-descriptor limit is {hard}; raise it above {args.streams}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    with running_site(portraits=60) as site:
        subprocess.run(["curl", "-s", "-o", "/dev/null", site.base + "/"], check=True)
        result = asyncio.run(measure(args, site.base, site.port, site.redis_url, site.pid))
    report(args, result)


def report(args, result: dict) -> None:
    print(f"\nphotowall, one server process, `/` cached, {args.connections} wrk connections")
    print(f"{'':28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, row in result["rows"].items():
        print(f"{name:28}{row['req/s']:>10.0f}{row['p50 ms']:>10.2f}{row['p99 ms']:>10.2f}")
    idle, *held = result["rows"].values()
    shares = ", ".join(f"{100 * row['req/s'] / idle['req/s']:.0f}%" for row in held)
    print(f"throughput with {args.streams} streams held: {shares} of idle")
    print(f"streams opened in {result['opened_s']:.1f} s")
    print(f"server CPU with the streams idle (keep-alives): {result['idle_cpu']:.1f}% of a core")
    print("server file descriptors: {} idle, {} with streams".format(*result["fds"]))
    print("server memory (RSS): {:.0f} MB idle, {:.0f} MB with streams".format(*result["rss_mb"]))
    print(f"redis: {result['redis_clients']} clients, {result['subscriptions']} subscription(s)")
    print(f"one 'new portrait' reached all {args.streams} walls in {result['fan_out_s']:.2f} s")


if __name__ == "__main__":
    main()
