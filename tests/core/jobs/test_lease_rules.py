"""The lease rules in one process, against real databases and Redis: times are the database's,
a reaper leaves the jobs its own process paints, a read-only database is one outage."""

import asyncio
import logging
import uuid

import pytest
from sqlalchemy import select

from core.jobs import lifecycle
from core.jobs.outage import Outage
from core.jobs.queue import JobQueue
from core.jobs.reaper import Reaper
from core.jobs.spec import PortraitSpec
from core.store.clock import db_time
from core.store.db import Database
from core.store.models import Job, Portrait
from tests.core.jobs.test_lifecycle import OUTPUTS, PARAMS


async def _job(queue: JobQueue) -> uuid.UUID:
    spec = PortraitSpec(references=["r/a.png"], params=PARAMS)
    return uuid.UUID(await queue.submit_portrait(spec))


async def _times(db: Database, job_id: uuid.UUID):
    async with db.session() as session:
        job = await session.get(Job, job_id)
        return job, await session.scalar(select(db_time()))


@pytest.mark.serial  # a 0.2 s lease must have run out 0.5 s later
def test_lease_times_are_written_and_compared_in_the_databases_clock(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        held, short = await _job(queue), await _job(queue)
        assert await lifecycle.waiting(db, 60) == []  # submitted just now
        await asyncio.sleep(0.2)
        assert set(await lifecycle.waiting(db, 0.1)) == {held, short}
        claim = await lifecycle.claim(db, held, "w1", 30)
        job, now = await _times(db, held)
        assert abs((job.lease_expires_at - now).total_seconds() - 30) < 2
        assert abs((job.started_at - now).total_seconds()) < 2
        await lifecycle.claim(db, short, "w2", 0.2)
        await asyncio.sleep(0.5)
        assert await lifecycle.expired(db) == [(short, "w2")]
        assert await lifecycle.finish(db, held, claim.token, OUTPUTS)
        recent = await lifecycle.finished_within(db, 600, 0)
        settled = await lifecycle.finished_within(db, 600, 60)
        await queue.close()
        await db.dispose()
        return recent, settled

    recent, settled = asyncio.run(go())
    assert len(recent) == 1 and settled == []


def test_a_reaper_leaves_a_job_its_own_process_paints(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job_id = await _job(queue)
        await lifecycle.claim(db, job_id, "here", 0.1)
        await asyncio.sleep(0.3)  # its lease ran out: the attempt here is slow to renew
        painting: set[uuid.UUID] = {job_id}
        reaper = Reaper(queue, lease_s=0, interval_s=0.05, owner="here", painting=lambda: painting)
        left = await reaper.sweep()
        still = (await _times(db, job_id))[0].status
        painting.clear()  # the attempt ended without letting go: now it is the reaper's
        await asyncio.sleep(0.1)  # the sweep lock's turn is over
        taken = await reaper.sweep()
        after = (await _times(db, job_id))[0].status
        await queue.close()
        await db.dispose()
        return left, still, taken, after

    left, still, taken, after = asyncio.run(go())
    assert (still, after) == ("running", "queued")
    assert left is not None and not any(k.startswith("expired") for k in left)
    assert taken["expired→queued"] == 1


def test_reads_that_work_do_not_end_an_outage_of_writes(caplog):
    outage = Outage("the database", logging.getLogger("narcis.test"))
    refused = OSError("cannot execute UPDATE in a read-only transaction")
    with caplog.at_level(logging.WARNING, "narcis.test"):
        for _ in range(5):  # a read-only server: every renewal refused, every read answered
            outage.failed(refused, writing=True)
            outage.ok(writing=False)
        assert outage.down
        outage.ok()  # a write worked
        outage.failed(OSError("connection refused"))  # a later outage, reads fail too
        outage.ok(writing=False)
    lines = [r.getMessage().split(" (")[0] for r in caplog.records]
    assert lines[0] == "the database is not answering" and len(lines) == 4, lines
    assert [line.startswith("the database is back") for line in lines] == [False, True] * 2
    assert not outage.down


class CountingReaper(Reaper):
    """A reaper that counts the passes it won (only a won pass gets to requeue)."""

    won = 0

    async def requeue(self, job_ids, fetched_grace_s=None) -> int:
        self.won += 1
        return await super().requeue(job_ids, fetched_grace_s)


@pytest.mark.serial  # passes counted in 7 s
def test_two_reapers_take_turns_whenever_they_started(redis_db_url, tmp_path):
    from core.store.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'narcis.db'}"
    upgrade(url)

    async def go():
        db = Database(url)
        queue = JobQueue(redis_db_url, db)
        stop = asyncio.Event()
        reapers = [CountingReaper(queue, 30, 0.8, owner) for owner in ("early", "late")]
        first = asyncio.create_task(reapers[0].run(stop))
        await asyncio.sleep(0.1)  # the second starts while the first holds the turn
        second = asyncio.create_task(reapers[1].run(stop))
        await asyncio.sleep(7)
        stop.set()
        await asyncio.gather(first, second)
        await queue.close()
        await db.dispose()
        return [r.won for r in reapers]

    won = asyncio.run(go())
    print("passes won", won)
    assert sum(won) >= 6 and min(won) >= 3, won  # about one pass an interval, in turns


@pytest.mark.serial  # a 0.3 s lease, waits of 0.2 s
def test_after_a_stall_the_painting_waits_for_the_database_and_a_lost_lease_writes_nothing(
    database_url, redis_db_url
):
    from core.jobs.lease import Lease

    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job_id = await _job(queue)
        claim = await lifecycle.claim(db, job_id, "here", 0.3)
        lease = Lease(db, job_id, claim.token, 0.3)
        fresh = await lease.confirmed()
        await asyncio.sleep(0.5)  # stopped past its lease: nothing heard for 2 renewal periods
        released = await lifecycle.release(db, job_id, "taken", token=None, failure=True)
        painter = asyncio.ensure_future(asyncio.to_thread(lease.pause_if_unheard, lambda: False))
        await asyncio.sleep(0.2)
        waited = not painter.done()  # the next step waits for the watch to ask
        held = await lease.renew()
        await asyncio.wait_for(painter, 2)
        may_write = await lease.confirmed()
        await queue.close()
        await db.dispose()
        return fresh, released, waited, held, lease.lost.is_set(), may_write

    assert asyncio.run(go()) == (True, "queued", True, False, True, False)


# A host 120 s ahead submits two jobs, claims both, finishes one and renews the other's lease.
AHEAD_HOST = """
import asyncio, sys, uuid
from core.jobs import lifecycle
from core.jobs.queue import JobQueue
from core.jobs.spec import PortraitSpec
from core.store.db import Database
from tests.core.jobs.test_lifecycle import OUTPUTS, PARAMS

async def go(database_url, redis_url):
    db = Database(database_url)
    queue = JobQueue(redis_url, db)
    done, held = [
        uuid.UUID(await queue.submit_portrait(PortraitSpec(references=["r/a.png"], params=PARAMS)))
        for _ in range(2)
    ]
    claim = await lifecycle.claim(db, done, "ahead", 30)
    assert await lifecycle.finish(db, done, claim.token, OUTPUTS)
    claim = await lifecycle.claim(db, held, "ahead", 30)
    assert await lifecycle.renew(db, held, claim.token, 30)
    await queue.close()
    await db.dispose()
    print(done, held)

asyncio.run(go(*sys.argv[1:]))
"""


@pytest.mark.serial  # times within 30 s of the database's now
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_host_ahead_writes_no_time_of_its_own_into_a_jobs_life(database_url, redis_db_url):
    from tests.core.jobs.skew import ahead, run_python

    code = AHEAD_HOST.replace("sys.argv[1:]", repr([database_url, redis_db_url]))
    ran = run_python(code, ahead(120))
    assert ran.returncode == 0, ran.stderr
    done, held = (uuid.UUID(word) for word in ran.stdout.split())

    async def read():
        db = Database(database_url)
        async with db.session() as session:
            rows = [await session.get(kind, done) for kind in (Job, Portrait)]
            lease = (await session.get(Job, held)).lease_expires_at
            now = await session.scalar(select(db_time()))
        await db.dispose()
        return rows, lease, now

    (job, portrait), lease, now = asyncio.run(read())
    stamps = {
        "job.created_at": job.created_at,
        "job.updated_at": job.updated_at,
        "job.started_at": job.started_at,
        "job.finished_at": job.finished_at,
        "portrait.created_at": portrait.created_at,
        "portrait.updated_at": portrait.updated_at,
    }
    late = {name: (now - at).total_seconds() for name, at in stamps.items()}
    assert all(0 <= s < 30 for s in late.values()), late  # 120 s ahead: all would be < 0
    assert 0 < (lease - now).total_seconds() <= 30  # the database's now + 30 s


@pytest.mark.serial  # renewal cadence against a 1.2 s lease
def test_slow_renewals_keep_their_cadence_and_a_live_lease_never_lapses(
    database_url, redis_db_url, monkeypatch
):
    from types import SimpleNamespace

    from core.jobs.lease import Lease
    from core.jobs.run import JobRun

    real = lifecycle.renew

    async def slow(*args):  # a loaded host: each renewal comes back 0.9 s after it was written
        held = await real(*args)
        await asyncio.sleep(0.9)
        return held

    monkeypatch.setattr(lifecycle, "renew", slow)

    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job_id = await _job(queue)
        claim = await lifecycle.claim(db, job_id, "here", 1.2)
        settings = SimpleNamespace(job_heartbeat_s=1.2, job_timeout_s=60)
        state = SimpleNamespace(settings=settings, evacuate=asyncio.Event(), db=db)
        attempt = JobRun(state, None, str(job_id))
        attempt.claim, attempt.lease = claim, Lease(db, job_id, claim.token, 1.2)
        watch = asyncio.ensure_future(attempt.watch())
        lapsed = 0
        for _ in range(80):  # 4 s: a renewal period (0.4 s) plus 0.9 s each was 1.3 s apart
            await asyncio.sleep(0.05)
            lapsed += bool(await lifecycle.expired(db))
        state.evacuate.set()
        why = await asyncio.wait_for(watch, 5)
        await queue.close()
        await db.dispose()
        return lapsed, why

    assert asyncio.run(go()) == (0, "evacuate")
