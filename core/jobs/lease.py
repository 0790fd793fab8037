"""An attempt's hold on its job's lease, as its own process sees it (the rules are written at
the top of core/jobs/lifecycle.py).

The attempt's watch renews from the event loop; the painting thread and the storing ask this
object whether they may go on:
- `pause_if_unheard()`, in the painting thread before each step: when the database has not
  answered a renewal for two renewal periods (the process was stopped, the host froze, the
  loop starved), wait until it has; a lost lease then stops the painting at that step;
- `confirmed()`, before anything is written: the database confirmed the lease within the last
  renewal period, asking it again (and waiting out an outage) when it did not.
Durations here are the host's monotonic clock: how long since this process heard the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable

from core.jobs import lifecycle
from core.jobs.outage import is_transient, shared
from core.store.db import Database

log = logging.getLogger("narcis.worker")
CONFIRM_GIVE_UP_S = 300.0  # a database away this long: the attempt ends and stores nothing


class Lease:
    def __init__(self, db: Database, job_id: uuid.UUID, token: str, lease_s: float) -> None:
        self.db, self.job_id, self.token, self.lease_s = db, job_id, token, lease_s
        self.renew_s = lease_s * lifecycle.RENEW_EVERY
        self.confirmed_at = self.heard_at = time.monotonic()  # the claim has just confirmed it
        self.lost = threading.Event()
        self.outage = shared("the database")

    async def renew(self) -> bool | None:
        """True while the lease is ours, False once it is not, None when the database is away
        (keep painting: the reaper cannot take the job without the database either)."""
        asked = time.monotonic()  # the new expiry counts from no earlier than this
        try:
            held = await lifecycle.renew(self.db, self.job_id, self.token, self.lease_s)
        except Exception as exc:
            if not is_transient(exc):
                log.exception("could not renew the lease")
            else:
                self.outage.failed(exc, writing=True)
            held = None
        else:
            self.outage.ok()
        if held:  # as fresh as the question: it may have waited out a stall on its way
            self.confirmed_at = self.heard_at = asked
        elif held is None:
            self.heard_at = time.monotonic()  # the database is away: paint on meanwhile
        else:
            self.lost.set()
        return held

    async def confirmed(self) -> bool:
        """Whether the lease is ours for at least two more renewal periods: before a write."""
        if self.lost.is_set():
            return False
        if time.monotonic() - self.confirmed_at < self.renew_s:
            return True
        deadline, wait = time.monotonic() + CONFIRM_GIVE_UP_S, 0.25
        while (held := await self.renew()) is None and time.monotonic() < deadline:
            await asyncio.sleep(wait)
            wait = min(5.0, 2 * wait)
        return bool(held)

    def pause_if_unheard(self, stopping: Callable[[], bool]) -> None:
        """In the painting thread: wait while the database has not answered a renewal for two
        renewal periods, unless the attempt is stopping anyway. It waits on `lost` (which also
        ends the wait the moment the lease is lost), not with time.sleep: a sleep that raises
        (Python 3.11 sleeps with clock_nanosleep, which an LD_PRELOAD such as libfaketime may
        break) would fail the paid attempt at this step."""
        while time.monotonic() - self.heard_at > 2 * self.renew_s:
            if stopping() or self.lost.wait(0.05):
                return
