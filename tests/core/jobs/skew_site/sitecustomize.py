"""Imported at start-up by the processes that tests run under libfaketime (tests/core/jobs/
skew.py explains why): where time.sleep is broken by libfaketime 0.9.10, sleep through
select(), whose timeout is relative and which libfaketime passes on intact."""

import select
import time


def _broken() -> bool:
    try:
        time.sleep(0)
    except OSError:
        return True
    return False


def _sleep(seconds: float) -> None:
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


if _broken():
    time.sleep = _sleep
