"""The job's state transitions, submit and the event log, against real databases and Redis
(no workers): each race has exactly one winner, refunds follow the outcome."""

import asyncio
import uuid

import pytest

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.errors import CapacityError
from core.jobs import lifecycle
from core.jobs.events import EventStream, JobEvent, history, publish
from core.jobs.outage import BUSY, make_redis
from core.jobs.queue import JobQueue
from core.jobs.spec import PortraitSpec
from core.store.accounts import create_guest, tokens_left
from core.store.db import Database
from core.store.models import Job
from tests.services import RedisServer

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="ledger", width=64, height=64, steps=1),
    identity=IdentityParams(steps=1, crop_size=64),
)
OUTPUTS = {
    "keys": {"final": "portraits/x/1/final.png"},
    "thumbhash": "abc",
    "size": [64, 64],
    "params": PARAMS.model_dump(mode="json"),
    "seconds": {"total": 1.0},
}


async def _paid_job(db: Database, queue: JobQueue) -> tuple[uuid.UUID, uuid.UUID]:
    guest = (await create_guest(db)).id
    spec = PortraitSpec(references=["r/a.png"], params=PARAMS, session_id=str(guest))
    return uuid.UUID(await queue.submit_portrait(spec)), guest


def test_one_claim_wins_only_its_lease_finishes_and_a_cancel_refunds(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job, guest = await _paid_job(db, queue)
        claims = await asyncio.gather(*(lifecycle.claim(db, job, f"w{i}", 30) for i in range(4)))
        [won] = [c for c in claims if c is not None]
        assert not await lifecycle.finish(db, job, "not-the-token", OUTPUTS)
        assert await lifecycle.renew(db, job, won.token, 30)
        assert await tokens_left(db, guest) == 4
        assert await queue.cancel(job.hex)
        assert not await lifecycle.renew(db, job, won.token, 30)  # the attempt learns it
        assert not await lifecycle.finish(db, job, won.token, OUTPUTS)  # and stores nothing
        assert not await queue.cancel(job.hex)
        left = await tokens_left(db, guest)
        kinds = [e.type for e in await history(queue.redis, str(job))]
        await queue.close()
        await db.dispose()
        return won.attempt, left, kinds

    assert asyncio.run(go()) == (1, 5, ["queued", "cancelled"])


def test_a_finished_job_cannot_be_cancelled(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job, guest = await _paid_job(db, queue)
        claim = await lifecycle.claim(db, job, "w", 30)
        assert await lifecycle.finish(db, job, claim.token, OUTPUTS)
        cancelled = await queue.cancel(str(job))
        left = await tokens_left(db, guest)
        await queue.close()
        await db.dispose()
        return cancelled, left

    assert asyncio.run(go()) == (False, 4)


def test_the_last_allowed_failure_fails_the_job_once_and_refunds(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job, guest = await _paid_job(db, queue)
        outcomes = []
        for _ in range(lifecycle.RETRIES):
            claim = await lifecycle.claim(db, job, "w", 30)
            outcomes.append(
                await lifecycle.release(db, job, "boom", token=claim.token, failure=True)
            )
        again = await lifecycle.claim(db, job, "w", 30)
        async with db.session() as session:
            row = await session.get(Job, job)
        left = await tokens_left(db, guest)
        await queue.close()
        await db.dispose()
        return outcomes, again, row.status, row.error, left

    outcomes, again, status, error, left = asyncio.run(go())
    assert outcomes == ["queued"] * (lifecycle.RETRIES - 1) + ["failed"]
    assert (again, status, error, left) == (None, "failed", lifecycle.GAVE_UP, 5)


def test_a_graceful_hand_back_does_not_count_as_a_failure(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        job, _ = await _paid_job(db, queue)
        for _ in range(lifecycle.RETRIES + 1):
            claim = await lifecycle.claim(db, job, "w", 30)
            assert await lifecycle.release(db, job, "spot", token=claim.token, failure=False)
        async with db.session() as session:
            row = await session.get(Job, job)
        await queue.close()
        await db.dispose()
        return row.status, row.attempts, row.failures

    assert asyncio.run(go()) == ("queued", lifecycle.RETRIES + 1, 0)


def test_concurrent_submits_of_one_new_id_record_and_charge_it_once(database_url, redis_db_url):
    async def go():
        db = Database(database_url)
        queue = JobQueue(redis_db_url, db)
        guest = (await create_guest(db)).id
        spec = PortraitSpec(references=["r/a.png"], params=PARAMS, session_id=str(guest))
        ids = await asyncio.gather(*(queue.submit_portrait(spec) for _ in range(12)))
        left = await tokens_left(db, guest)
        queued = await queue.saq.count("queued")
        kinds = [e.type for e in await history(queue.redis, spec.job_id)]
        await queue.close()
        await db.dispose()
        return set(ids), left, queued, kinds, spec.job_id

    ids, left, queued, kinds, job_id = asyncio.run(go())
    assert (ids, left, queued, kinds) == ({job_id}, 4, 1, ["queued"])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_submit_while_redis_is_down_charges_nothing_and_the_same_id_works_later(
    database_url, tmp_path
):
    server = RedisServer(tmp_path)
    server.start()

    async def go():
        db = Database(database_url)
        queue = JobQueue(server.url, db)
        guest = (await create_guest(db)).id
        spec = PortraitSpec(references=["r/a.png"], params=PARAMS, session_id=str(guest))
        server.kill()
        with pytest.raises(CapacityError) as refused:
            await queue.submit_portrait(spec)
        async with db.session() as session:
            half_written = await session.get(Job, uuid.UUID(spec.job_id))
        during = await tokens_left(db, guest)
        server.start()
        await queue.submit_portrait(spec)  # the site and the bot retry with the same id
        after = await tokens_left(db, guest)
        queued = await queue.saq.count("queued")
        await queue.close()
        await db.dispose()
        return str(refused.value), half_written, during, after, queued

    try:
        assert asyncio.run(go()) == (BUSY, None, 5, 4, 1)
    finally:
        server.stop()


def test_the_log_takes_one_terminal_event_and_no_stale_attempts_steps(redis_db_url):
    async def go():
        client = make_redis(redis_db_url)

        def event(kind, attempt, **fields):
            return JobEvent(job_id="j1", type=kind, attempt=attempt, **fields)

        sent = [
            event("queued", 0),
            event("started", 1),
            event("step", 1, stage="identity", step=1, total=9),
            event("started", 2),
            event("step", 1, stage="identity", step=2, total=9),  # the old attempt, late
            event("step", 2, stage="identity", step=1, total=9),
            event("done", 2),
            event("cancelled", 0),  # a second terminal event
            event("step", 2, stage="identity", step=2, total=9),
        ]
        accepted = [await publish(client, e) is not None for e in sent]
        logged = [(e.seq, e.type, e.attempt) for e in await history(client, "j1")]
        await client.aclose()
        return accepted, logged

    accepted, logged = asyncio.run(go())
    assert accepted == [True, True, True, True, False, True, True, False, False]
    assert logged == [
        (1, "queued", 0),
        (2, "started", 1),
        (3, "step", 1),
        (4, "started", 2),
        (5, "step", 2),
        (6, "done", 2),
    ]


def test_a_stream_publishes_steps_in_the_order_they_were_sent(redis_db_url):
    async def go():
        client = make_redis(redis_db_url)
        stream = EventStream(client, "j2", attempt=1)
        for step in range(1, 301):  # from the painting thread, as the pipeline reports them
            await asyncio.to_thread(stream.send_threadsafe, "step", stage="identity", step=step)
        await stream.close()
        steps = [e.step for e in await history(client, "j2")]
        await client.aclose()
        return steps

    assert asyncio.run(go()) == list(range(1, 301))
