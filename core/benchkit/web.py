"""Measuring a web server from outside: wrk runs, and /health latencies probed from a process
of their own (a prober that shares the load generator's process or loop measures that too).

No web framework here: plain sockets, subprocesses and statistics."""

from __future__ import annotations

import http.client
import multiprocessing
import os
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

PROBE_EVERY_S = 0.01


def wrk(url: str, seconds: int, connections: int, *extra: str) -> dict[str, float]:
    """Requests per second and the p50 and p99 latencies (ms) of one wrk run (one thread)."""
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


def p99(values: list[float]) -> float:
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[98]


@dataclass(frozen=True)
class Latencies:
    """Milliseconds per probe, and when each was sent (time.monotonic(), which every process
    on the machine shares)."""

    sent: list[float]
    values: list[float]

    def between(self, start: float, end: float) -> Latencies:
        kept = [(t, v) for t, v in zip(self.sent, self.values, strict=True) if start <= t <= end]
        return Latencies([t for t, _ in kept], [v for _, v in kept])

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.values)
        return {
            "probes": len(ordered),
            "p50 ms": ordered[len(ordered) // 2],
            "p99 ms": p99(ordered),
            "max ms": ordered[-1],
        }


class HealthProbe:
    """GET `path` every PROBE_EVERY_S on one kept-alive connection, from another process,
    between `start()` and `stop()`; a request's latency counts from when it was sent, and a
    failed one (an error, a status other than 200) counts as PROBE_TIMEOUT_S."""

    def __init__(self, base: str, path: str = "/health") -> None:
        # Spawned, not forked: a forked child would hold every socket the parent has open
        # (closing a stream would not close it).
        context = multiprocessing.get_context("spawn")
        self._stop, self._probing = context.Event(), context.Event()
        self._results = context.Queue()
        self._process = context.Process(
            target=_probe,
            args=(base, path, self._stop, self._probing, self._results),
            daemon=True,
        )

    def start(self) -> HealthProbe:
        """Once the probe is probing: a spawned child takes seconds to import its way there,
        and a measurement begun before then would see only its end."""
        self._process.start()
        if not self._probing.wait(timeout=120):
            raise RuntimeError("the health probe never started probing")
        return self

    def stop(self) -> Latencies:
        self._stop.set()
        sent, values, failed = self._results.get(timeout=120)
        self._process.join(timeout=30)
        if failed:
            print(f"{path_note(failed)}")
        return Latencies(sent, values)


PROBE_TIMEOUT_S = 30.0


def path_note(failed: list[str]) -> str:
    return f"{len(failed)} probe(s) failed, e.g. {failed[0]}"


def _probe(base: str, path: str, stop, probing, results) -> None:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=PROBE_TIMEOUT_S)
    sent: list[float] = []
    values: list[float] = []
    failed: list[str] = []
    while not stop.is_set():
        sent.append(time.monotonic())
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}")
            values.append((time.perf_counter() - started) * 1000)
        except (OSError, RuntimeError, http.client.HTTPException) as exc:
            failed.append(repr(exc))
            values.append(PROBE_TIMEOUT_S * 1000)
            connection.close()
        probing.set()
        time.sleep(PROBE_EVERY_S)
    results.put((sent, values, failed))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
