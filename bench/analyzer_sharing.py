"""How to share dlib's face analyser between threads: one lock, or a pool of copies.

    .venv/bin/python bench/analyzer_sharing.py [--calls 24] [--threads 8]

Prints what one copy costs (load time, memory), each photo's detection alone, and the wall
time of the same calls from many threads through one locked copy and through pools of 2..4
copies (`PooledAnalyzer`, what `make_analyzer` returns). dlib releases the GIL while it
works, so copies run in parallel up to the number of cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def timed(detect, photos, calls: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda i: detect(photos[i % len(photos)]), range(calls)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=24)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    from core.diffusion.faces.backends import DlibAnalyzer, PooledAnalyzer
    from tests.core.diffusion.faces.test_threads import photos

    pictures = photos()
    before, started = rss_mb(), time.perf_counter()
    one = DlibAnalyzer()
    print(f"one copy: loads in {time.perf_counter() - started:.2f} s, +{rss_mb() - before:.0f} MB")
    for picture in pictures:
        started = time.perf_counter()
        one.detect(picture)
        print(f"  {picture.size}: {time.perf_counter() - started:.3f} s alone")
    print(f"{args.calls} calls from {args.threads} threads, {os.cpu_count()} cores:")
    lock = threading.Lock()

    def locked(picture):
        with lock:
            return one.detect(picture)

    print(f"  one lock:   {timed(locked, pictures, args.calls, args.threads):.2f} s")
    for size in (2, 3, 4):
        pool = PooledAnalyzer(DlibAnalyzer, size)
        seconds = timed(pool.detect, pictures, args.calls, args.threads)
        print(f"  pool of {size}: {seconds:.2f} s ({pool.copies} copies made)")
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
