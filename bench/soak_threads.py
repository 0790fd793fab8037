"""Soak the long-running parts' shared native objects with overlapping work for minutes.

    .venv/bin/python bench/soak_threads.py bot --minutes 10
    .venv/bin/python bench/soak_threads.py workbench --minutes 10
    .venv/bin/python bench/soak_threads.py worker --minutes 10

- bot: the bot's own photo check (`Portraits.checked_photo`) on its services' one analyser,
  eight checks always in flight over a 3000² JPEG, a 1400² PNG, a small JPEG and a photo
  without a face;
- workbench: two sessions' events (stage 2, face and map preview, stage 1, likeness) four at
  a time on one Workbench over the tiny models;
- worker: the worker's painting, likeness and face finding six at a time.

Every result is compared with the same call made alone (a difference counts as an error).
The part runs in a child process, so a crash is reported with its signal. Printed: calls,
errors, crashes, RSS at start and end (growth), latency p50/p90/p99 per kind of call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# As the systemd units run the parts (ansible/roles/narcis_control/templates): with glibc's
# default of one malloc arena per thread the bot's photo checks reached 1.9 GB in 10 minutes;
# with two they stay at 1.3-1.5 GB
PRODUCTION_ARENAS = "2"
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


class Record:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []
        self.rss: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def add(self, kind: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            if not ok:
                self.errors.append(kind)

    def summary(self) -> dict:
        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

        return {
            "calls": sum(len(v) for v in self.latency.values()),
            "errors": len(self.errors),
            "rss_mb": {"start": self.rss[0][1], "end": self.rss[-1][1]},
            "rss_growth_mb": round(self.rss[-1][1] - self.rss[0][1], 1),
            "rss_after_warmup_growth_mb": round(
                self.rss[-1][1] - self.rss[len(self.rss) // 5][1], 1
            ),
            "rss_mb_each_minute": [mb for t, mb in self.rss if t % 60 < 5],
            "latency_s": {
                kind: {"n": len(v), "p50": pct(v, 0.5), "p90": pct(v, 0.9), "p99": pct(v, 0.99)}
                for kind, v in self.latency.items()
            },
        }


def sample_rss(record: Record, stop: threading.Event, started: float) -> None:
    while not stop.wait(5):
        record.rss.append((round(time.monotonic() - started), round(rss_mb(), 1)))


def soak_threads(calls, same, names: list[str], threads: int, minutes: float) -> Record:
    """Keep `threads` calls in flight, round-robin over `calls`, for `minutes`."""
    alone = [call() for call in calls]
    record, stop, started = Record(), threading.Event(), time.monotonic()
    record.rss.append((0, round(rss_mb(), 1)))
    threading.Thread(target=sample_rss, args=(record, stop, started), daemon=True).start()
    deadline = started + minutes * 60

    def loop(offset: int) -> None:
        i = offset
        while time.monotonic() < deadline:
            index = i % len(calls)
            t = time.perf_counter()
            try:
                ok = same(calls[index](), alone[index])
            except Exception as exc:
                ok = False
                print(f"{names[index]}: {exc!r}", file=sys.stderr)
            record.add(names[index], time.perf_counter() - t, ok)
            i += 1

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    stop.set()
    record.rss.append((round(time.monotonic() - started), round(rss_mb(), 1)))
    return record


def soak_bot(minutes: float) -> Record:
    from tests.bot.test_threads import attachments, photo_checker

    _, outcome = photo_checker()

    async def main() -> Record:
        photos = attachments()
        alone = [await outcome(a) for a in photos]
        record, stop, started = Record(), threading.Event(), time.monotonic()
        record.rss.append((0, round(rss_mb(), 1)))
        threading.Thread(target=sample_rss, args=(record, stop, started), daemon=True).start()
        deadline = started + minutes * 60

        async def command(offset: int) -> None:
            i = offset
            while time.monotonic() < deadline:
                photo = photos[i % len(photos)]
                t = time.perf_counter()
                result = await outcome(photo)
                record.add(photo.filename, time.perf_counter() - t, result == alone[i % 4])
                i += 1

        await asyncio.gather(*(command(k) for k in range(8)))
        stop.set()
        record.rss.append((round(time.monotonic() - started), round(rss_mb(), 1)))
        return record

    return asyncio.run(main())


def soak_workbench(minutes: float) -> Record:
    from core.modelkit.tiny import build_tiny
    from tests.workbench.test_threads import workload

    folder = Path(tempfile.mkdtemp(prefix="narcis-soak-"))
    build_tiny(folder / "models", seed=0)
    calls, same = workload(folder / "models", folder / "data")
    names = ["stage 2", "preview", "stage 1", "likeness"]
    return soak_threads(calls, same, names, threads=4, minutes=minutes)


def soak_worker(minutes: float) -> Record:
    from core.modelkit.tiny import build_tiny
    from tests.core.jobs.test_threads import workload

    folder = Path(tempfile.mkdtemp(prefix="narcis-soak-"))
    build_tiny(folder / "models", seed=0)
    calls, same, _ = workload(folder / "models")
    names = ["painting", "likeness", "face finding"]
    return soak_threads(calls, same, names, threads=6, minutes=minutes)


PARTS = {"bot": soak_bot, "workbench": soak_workbench, "worker": soak_worker}


def child(part: str, minutes: float) -> None:
    import torch

    torch.set_num_threads(1)
    print(json.dumps(PARTS[part](minutes).summary()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=sorted(PARTS))
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.part, args.minutes)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, __file__, args.part, "--minutes", str(args.minutes), "--child"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MALLOC_ARENA_MAX": PRODUCTION_ARENAS},
    )
    wall = round(time.monotonic() - started)
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        print(json.dumps({"part": args.part, "crashes": 1, "signal": name, "wall_s": wall}))
        print(done.stderr[-2000:], file=sys.stderr)
        sys.exit(1)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        sys.exit(done.returncode)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"part": args.part, "crashes": 0, "wall_s": wall, **summary}, indent=1))


if __name__ == "__main__":
    main()
