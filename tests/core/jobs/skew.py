"""A host whose wall clock runs ahead, for worker processes: libfaketime (a Debian package)
shifts the wall clock by LD_PRELOAD and leaves the monotonic clock alone, as a host with a
skewed clock has it.

libfaketime 0.9.10 (Debian's) mishandles one call in that mode: clock_nanosleep on the
monotonic clock with an absolute deadline, which it shifts by the faked wall clock's offset
and the kernel refuses (EINVAL; wolfcw/libfaketime#426, fixed after 0.9.10). Python 3.11's
time.sleep sleeps exactly that way, so every time.sleep in such a process raises OSError — a
fault of the rig, not of a host ahead. `skew_site/sitecustomize.py` gives those processes a
working time.sleep when (and only when) theirs is broken; no other setting of 0.9.10 avoids it
(FAKETIME_NO_CACHE, FAKETIME_FORCE_MONOTONIC_FIX, the MT library: tried, all still EINVAL), and
faking the monotonic clock too would hang every timed lock wait (glibc passes the faked
deadline straight to the kernel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
SITE = Path(__file__).parent / "skew_site"


def ahead(seconds: int, *, mend_sleep: bool = True) -> dict[str, str]:
    """Environment for a process whose wall clock runs `seconds` ahead (its monotonic clock is
    its own); `mend_sleep=False` leaves libfaketime's broken time.sleep as it is."""
    env = {
        "LD_PRELOAD": str(FAKETIME),
        "FAKETIME": f"{seconds:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # the spelling libfaketime 0.9.10 reads
    }
    if mend_sleep:
        paths = [str(SITE), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python of this checkout with `env` added (e.g. `ahead(120)`)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HF_HUB_OFFLINE": "1"}
    if "PYTHONPATH" in os.environ:
        base["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return subprocess.run(
        [sys.executable, "-c", code],
        env=base | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
