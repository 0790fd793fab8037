"""Stress tests for objects shared between threads.

A race in native code corrupts the heap and kills the process, so each stress test runs its
threads in a child interpreter (`in_child`): a crash there is a failed test with the signal
named, not a dead test session. Inside the child, `overlapped` starts every call at once and
compares each result with the same call made alone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.helpers import ROOT


def in_child(target: str, *args: str, timeout: float = 240) -> str:
    """Run `module:function(*args)` in a fresh interpreter; its stdout, or an assertion error
    that names the crash (SIGSEGV, SIGABRT from glibc's heap checks, ...) or the failure."""
    module, function = target.split(":")
    code = f"import sys; from {module} import {function} as f; f(*sys.argv[1:])"
    env = {"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "NARCIS_DEVICE": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise AssertionError(f"the child crashed with {name}:\n{done.stderr[-3000:]}")
    assert done.returncode == 0, f"the child failed:\n{done.stderr[-3000:]}"
    return done.stdout


def overlapped(
    calls: list[Callable[[], Any]],
    same: Callable[[Any, Any], bool],
    rounds: int,
    threads: int = 8,
) -> int:
    """Each call alone, then every call `rounds` times from `threads` threads released at
    once; raises if any result differs from its call's result alone. Returns the calls made."""
    alone = [call() for call in calls]
    work = [i for _ in range(rounds) for i in range(len(calls))]
    gate = threading.Barrier(min(threads, len(work)))

    def one(index: int, first: bool) -> bool:
        if first:
            gate.wait()  # the first wave starts together: the worst case, every time
        return same(calls[index](), alone[index])

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(one, i, n < threads) for n, i in enumerate(work)]
        differing = [work[n] for n, f in enumerate(futures) if not f.result()]
    if differing:
        raise AssertionError(f"calls {sorted(set(differing))} differed from their results alone")
    return len(work)
