"""The photowall beside the framework's ceiling, in one run: the cached wall and fragment as a
share of a minimal Litestar app (also with 10,000 SSE streams open), and /health's latency
while those streams close and while four 12 MP photos are checked beside a painting worker.

    .venv/bin/python bench/site_load.py [--seconds 8] [--streams 10000] [--uploaders 4]

One `narcis serve` process and bench/minimal_app.py under the same uvicorn settings, wrk on
one thread; throughput is the best of two interleaved runs, so both apps see the same
machine. /health is probed every 10 ms from a process of its own (core/benchkit/web.py).
The machine's load average is printed before and after: on a shared machine, read the
ratios, not the absolute figures.

Every upload must be answered 303 (queued) or 402 (checked, then out of tokens): a run whose
photos were refused before their check (CSRF, rate limits) stops with the answers counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.site_server import Site, running_minimal, running_site  # noqa: E402
from bench.site_sse import cpu_seconds, open_streams  # noqa: E402
from core.benchkit.web import HealthProbe, Latencies, load_average, wrk  # noqa: E402
from tests.services import running_postgres  # noqa: E402
from tests.site.test_live import CHECKED, twelve_megapixels, upload_until  # noqa: E402

BARS = {"wall": 0.60, "fragment": 0.50, "wall, streams open": 0.50}
P99_BAR_MS = 50.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--streams", type=int, default=10_000)
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--upload-seconds", type=int, default=20)
    parser.add_argument("--models", type=Path, help="a tiny model folder (built when absent)")
    parser.add_argument("--no-uploads", action="store_true", help="skip the upload part")
    parser.add_argument(
        "--postgres", action="store_true", help="a PostgreSQL database, as production has"
    )
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < args.streams + 1000:
        raise SystemExit(f"the file-descriptor limit is {hard}; raise it above {args.streams}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the servers inherit it
    print(load_average(), "(before)")
    env = {"NARCIS_SITE_UPLOADS_PER_MINUTE": "1000"}
    with contextlib.ExitStack() as services:
        if args.postgres:
            env["NARCIS_DATABASE_URL"] = services.enter_context(running_postgres())
        minimal = services.enter_context(running_minimal())
        site = services.enter_context(running_site(portraits=60, **env))
        rows = throughput(site, minimal, args)
        held, closing = asyncio.run(streams(site, args))
        rows["wall, streams open"] = held
        checking = None if args.no_uploads else uploads(site, args)
    print(load_average(), "(after)")
    report(args, rows, closing, checking)


def throughput(site: Site, minimal: str, args) -> dict[str, dict[str, float]]:
    """Best of two interleaved wrk runs of each, so a neighbour's burst hits all alike."""
    page = urllib.request.urlopen(site.base + "/").read().decode()
    cursor = re.search(r"cursor=([0-9a-f-]{36})", page).group(1)
    fragment = f"{site.base}/?cursor={cursor}"
    urllib.request.urlopen(urllib.request.Request(fragment, headers={"HX-Request": "true"}))
    runs = {
        "minimal app": lambda: wrk(minimal + "/", args.seconds, args.connections),
        "wall": lambda: wrk(site.base + "/", args.seconds, args.connections),
        "fragment": lambda: wrk(fragment, args.seconds, args.connections, "-H", "HX-Request: true"),
    }
    best: dict[str, dict[str, float]] = {}
    for _ in range(2):
        for name, run in runs.items():
            row = run()
            if name not in best or row["req/s"] > best[name]["req/s"]:
                best[name] = row
    return best


async def streams(site: Site, args) -> tuple[dict[str, float], Latencies]:
    """The wall with `--streams` walls open; then /health while they all close (in a random
    order: people leave when they like)."""
    baseline = _fds(site.pid)
    opened = await open_streams(site.port, args.streams)
    await asyncio.sleep(2)
    loop = asyncio.get_running_loop()
    held = None
    for _ in range(2):
        row = await loop.run_in_executor(None, wrk, site.base + "/", args.seconds, args.connections)
        held = row if held is None or row["req/s"] > held["req/s"] else held
    random.Random(0).shuffle(opened)
    probe = HealthProbe(site.base).start()
    await asyncio.sleep(1)
    start, cpu = time.monotonic(), cpu_seconds(site.pid)
    for _, writer in opened:
        writer.close()
    while _fds(site.pid) > baseline + 10:
        await asyncio.sleep(0.01)
    released = time.monotonic()
    await asyncio.sleep(1)
    latencies = probe.stop().between(start, released + 1)
    print(
        f"{args.streams} streams closed: released in {released - start:.2f} s, "
        f"server CPU {cpu_seconds(site.pid) - cpu:.2f} s"
    )
    return held, latencies


def uploads(site: Site, args) -> Latencies:
    """/health while `--uploaders` clients send 12 MP photos back to back and a worker paints
    the portraits they ask for (tiny models, on this CPU)."""
    from PIL import Image
    from skimage import data

    models = args.models or site.folder / "models"
    if not (models / "sdxl").exists():
        narcis = [sys.executable, "-m", "cli.main"]
        subprocess.run([*narcis, "models", "tiny", "--dir", str(models)], cwd=ROOT, check=True)
    photo = twelve_megapixels(Image.fromarray(data.astronaut()))
    worker_env = {**site.env, "NARCIS_MODELS_DIR": str(models), "NARCIS_DEVICE": "cpu"}
    worker_env["NARCIS_WORKER_GRACE_S"] = "1"  # at the end, hand the painting back at once
    log = (site.folder / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker"],
        cwd=ROOT,
        env={**worker_env, "NARCIS_METRICS_PORT": "0"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        return asyncio.run(_uploading(site.base, photo, args, worker.pid))
    finally:
        worker.terminate()
        worker.wait(timeout=60)


async def _uploading(base: str, photo: bytes, args, worker: int) -> Latencies:
    statuses, stop = Counter(), asyncio.Event()
    tasks = [
        asyncio.create_task(upload_until(base, photo, stop.is_set, statuses))
        for _ in range(args.uploaders)
    ]
    await _until_busy(worker)  # the worker is painting a portrait the uploads asked for
    probe = HealthProbe(base).start()
    start = time.monotonic()
    await asyncio.sleep(args.upload_seconds)
    latencies = probe.stop().between(start, time.monotonic())
    painting = cpu_seconds(worker)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)  # each ends after its upload in flight
    print(f"uploads answered by status: {dict(statuses)}; worker CPU so far {painting:.1f} s")
    if not set(statuses) <= CHECKED:
        raise SystemExit(f"uploads were not all checked: {dict(statuses)}")
    return latencies


async def _until_busy(pid: int, timeout: float = 300) -> None:
    """Until the worker spends most of a core: it loaded its models and paints."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(1)
        if cpu_seconds(pid) - before > 0.7:
            return
    raise RuntimeError("the worker never started painting")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def report(args, rows: dict, closing: Latencies, checking: Latencies | None) -> None:
    minimal = rows["minimal app"]["req/s"]
    print(f"\ndatabase: {'PostgreSQL' if args.postgres else 'SQLite'}")
    print(f"throughput, {args.connections} connections, best of two {args.seconds} s runs")
    print(f"{'':30}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'share':>8}{'bar':>6}")
    for name, row in rows.items():
        share = row["req/s"] / minimal
        bar = BARS.get(name)
        verdict = "" if bar is None else ("ok" if share >= bar else "MISS")
        print(
            f"{name:30}{row['req/s']:>10.0f}{row['p50 ms']:>9.2f}{row['p99 ms']:>9.2f}"
            f"{100 * share:>7.0f}%{verdict:>6}"
        )
    print(f"\n/health, probed every 10 ms (bar: p99 ≤ {P99_BAR_MS:.0f} ms)")
    print(f"{'':46}{'probes':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, latencies in (
        (f"while {args.streams} streams close", closing),
        (f"{args.uploaders} uploaders of 12 MP photos, a painting worker", checking),
    ):
        if latencies is None:
            continue
        row = latencies.summary()
        verdict = "ok" if row["p99 ms"] <= P99_BAR_MS else "MISS"
        print(
            f"{name:46}{row['probes']:>7}{row['p50 ms']:>9.1f}{row['p99 ms']:>9.1f}"
            f"{row['max ms']:>9.1f}  {verdict}"
        )


if __name__ == "__main__":
    main()
