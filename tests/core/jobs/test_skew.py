"""The rig for a host whose clock runs ahead (tests/core/jobs/skew.py): such a process sees
the wall clock 120 s ahead, its own monotonic clock, and sleeps; and a stalled attempt's
painting waits without time.sleep, which libfaketime 0.9.10 breaks."""

import json
import time

import pytest

from tests.core.jobs.skew import FAKETIME, ahead, run_python

pytestmark = pytest.mark.serial  # sleeps and waits measured against bounds

CLOCKS = """
import json, time
before = time.monotonic()
time.sleep(0.05)
print(json.dumps({"wall": time.time(), "mono": before, "slept": time.monotonic() - before}))
"""

# A lease whose database went unheard for longer than two renewal periods: the painting
# thread's next step waits, until the lease is lost 0.3 s later.
STALLED = """
import threading, time, uuid
from core.jobs.lease import Lease
try:
    time.sleep(0)
    print("time.sleep works")
except OSError as exc:
    print("time.sleep is broken here:", exc)
lease = Lease(None, uuid.uuid4(), "token", lease_s=0.3)
lease.heard_at -= 1.0
threading.Timer(0.3, lease.lost.set).start()
started = time.monotonic()
lease.pause_if_unheard(lambda: False)
print("waited", round(time.monotonic() - started, 2))
"""


def test_a_process_ahead_sees_the_wall_clock_120_s_ahead_its_own_monotonic_clock_and_sleeps():
    assert FAKETIME.exists(), "libfaketime is missing: run scripts/setup.sh"
    done = run_python(CLOCKS, ahead(120))
    wall, mono = time.time(), time.monotonic()
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert abs(seen["wall"] - wall - 120) < 10, seen
    assert abs(seen["mono"] - mono) < 10, seen  # the same monotonic clock as ours
    assert 0.04 <= seen["slept"] < 5, seen


def test_a_stalled_paintings_wait_needs_no_time_sleep_where_libfaketime_broke_it():
    done = run_python(STALLED, ahead(120, mend_sleep=False))
    print(done.stdout)
    assert done.returncode == 0, done.stderr  # was: OSError [Errno 22] from time.sleep
    waited = float(done.stdout.split("waited")[1])
    assert 0.25 <= waited < 3, done.stdout  # it waited, and stopped once the lease was lost
