"""The job spine when Redis fails, with real `narcis worker` processes and a real
redis-server (append-only file on): killed while jobs run, emptied mid-job (FLUSHALL, or its
AOF deleted), away during a submit, away while the workers idle; and a draining worker."""

import signal
import time

import pytest
import redis

from core.errors import CapacityError
from core.jobs.outage import BUSY
from core.jobs.spec import PortraitSpec
from core.store.accounts import create_guest, tokens_left
from core.store.db import Database
from tests.core.jobs.audit import audit, table, wait_terminal
from tests.core.jobs.chaos import (
    attempts,
    cancel,
    cpu_seconds,
    holders,
    params,
    submit_paid,
    wait_ready,
)
from tests.services import RedisServer
from tests.stack import REAPER_S, Stack, wait_for_step, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def redis_server(tmp_path):
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder, aof=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fleet(tmp_path, database_url, redis_server, tiny_models):
    stack = Stack(tmp_path, database_url, redis_server.url, tiny_models)
    yield stack
    stack.stop_workers()


def test_redis_killed_for_6_s_while_3_jobs_run_and_a_submit_meanwhile(
    fleet, redis_server, astronaut
):
    key = fleet.run(fleet.store(astronaut))
    job_ids, payer = fleet.run(submit_paid(fleet, key, 3, steps=100, crop=128))
    for _ in range(3):
        fleet.start_worker()
    wait_until(lambda: len(fleet.run(holders(fleet))) == 3, 180)
    redis_server.kill()
    refused, spec, guest = fleet.run(_submit_refused(fleet, key))
    time.sleep(6)
    redis_server.start()
    job_ids.append(fleet.run(_submit(fleet, spec)))  # the same id, retried
    payer[spec.job_id] = guest
    statuses = fleet.run(wait_terminal(fleet, job_ids, timeout=240))
    found = fleet.run(audit(fleet, job_ids, payer))
    print("\n" + table([found.row("redis kill -9 for 6 s, 3 running, 1 submit")]))
    assert refused == (BUSY, 5)  # the user is told to retry and charged nothing
    assert set(statuses.values()) == {"done"}, fleet.logs()[-5000:]
    assert found.clean, found
    assert "handed back" not in fleet.logs()  # nothing paints after a hand-back: none happened


async def _submit_refused(stack: Stack, key: str):
    db = Database(stack.database_url)
    guest = str((await create_guest(db)).id)
    spec = PortraitSpec(references=[key], base=key, params=params(2), session_id=guest)
    try:
        await _submit(stack, spec)
    except CapacityError as exc:
        refused = (str(exc), await tokens_left(db, spec.session_id))
    else:
        refused = None
    await db.dispose()
    return refused, spec, guest


async def _submit(stack: Stack, spec: PortraitSpec) -> str:
    queue = stack.queue()
    try:
        return await queue.submit_portrait(spec)
    finally:
        await queue.close()


@pytest.mark.serial  # rebuilt within two reaper intervals
@pytest.mark.parametrize("loss", ["flushall", "aof-deleted"])
def test_a_queue_lost_mid_job_is_rebuilt_while_the_workers_run(
    fleet, redis_server, astronaut, loss
):
    key = fleet.run(fleet.store(astronaut))
    job_ids, payer = fleet.run(submit_paid(fleet, key, 5, steps=60, crop=128))
    fleet.start_worker()
    fleet.start_worker()
    wait_until(lambda: len(fleet.run(holders(fleet))) == 2, 180)
    if loss == "flushall":
        redis.Redis.from_url(redis_server.url).flushall()
    else:
        redis_server.kill()
        redis_server.forget()
        redis_server.start()
    lost = time.monotonic()
    wait_until(lambda: fleet.run(_rebuilt(fleet)), timeout=6 * REAPER_S, every=0.1)
    rebuilt_s = time.monotonic() - lost
    statuses = fleet.run(wait_terminal(fleet, job_ids, timeout=300))
    found = fleet.run(audit(fleet, job_ids, payer))
    print("\n" + table([found.row(f"{loss} mid-job", rebuilt_s=round(rebuilt_s, 1))]))
    assert set(statuses.values()) == {"done"}, fleet.logs()[-5000:]
    assert found.clean, found
    assert rebuilt_s <= 2 * REAPER_S + 1  # two reaper intervals, no worker restarted


async def _rebuilt(stack: Stack) -> bool:
    """Every job the database has queued is on SAQ's queue again."""
    from sqlalchemy import select

    from core.store.models import Job

    db, client = Database(stack.database_url), redis.asyncio.Redis.from_url(stack.redis_url)
    try:
        async with db.session() as session:
            queued = {
                str(j) for j in await session.scalars(select(Job.id).where(Job.status == "queued"))
            }
        on_saq = {
            raw.decode().rsplit(":", 1)[1]
            for raw in await client.lrange("saq:narcis:queued", 0, -1)
        }
        return bool(queued) and queued <= on_saq
    finally:
        await client.aclose()
        await db.dispose()


def test_a_draining_worker_takes_no_new_job(fleet, astronaut):
    key = fleet.run(fleet.store(astronaut))
    [slow], payer = fleet.run(submit_paid(fleet, key, 1, steps=150, crop=256))
    draining = fleet.start_worker(NARCIS_WORKER_GRACE_S="20")
    wait_until(lambda: slow in fleet.run(holders(fleet)), 180)
    draining.send_signal(signal.SIGTERM)
    time.sleep(3)
    [fresh], fresh_payer = fleet.run(submit_paid(fleet, key, 1, steps=2))
    time.sleep(4)
    untouched = fleet.run(_status_of(fleet, fresh))
    fleet.start_worker()
    statuses = fleet.run(wait_terminal(fleet, [slow, fresh], timeout=240))
    found = fleet.run(audit(fleet, [slow, fresh], payer | fresh_payer))
    print("\n" + table([found.row("SIGTERM (20 s grace), then a new job")]))
    assert untouched == ("queued", None)
    assert set(statuses.values()) == {"done"}, fleet.logs()[-5000:]
    assert found.clean, found
    assert fleet.run(_status_of(fleet, fresh))[1] != f"{_host()}-{draining.pid}"


async def _status_of(stack: Stack, job_id: str):
    import uuid

    from core.store.models import Job

    db = Database(stack.database_url)
    try:
        async with db.session() as session:
            job = await session.get(Job, uuid.UUID(job_id))
            return job.status, job.worker
    finally:
        await db.dispose()


def _host() -> str:
    import socket

    return socket.gethostname()


@pytest.mark.serial  # CPU seconds over 10 s
def test_idle_workers_barely_use_the_cpu_while_redis_is_away(fleet, redis_server, astronaut):
    fleet.start_worker()
    fleet.start_worker()
    wait_ready(fleet, 2)
    time.sleep(2)
    before = sum(cpu_seconds(p.pid) for p in fleet.workers)
    redis_server.kill()
    time.sleep(10)
    burned = sum(cpu_seconds(p.pid) for p in fleet.workers) - before
    redis_server.start()
    key = fleet.run(fleet.store(astronaut))
    job_ids, payer = fleet.run(submit_paid(fleet, key, 1, steps=2))
    statuses = fleet.run(wait_terminal(fleet, job_ids, timeout=120))
    lines = fleet.logs().count("redis is not answering")
    found = fleet.run(audit(fleet, job_ids, payer))
    print(
        "\n"
        + table(
            [found.row("redis away 10 s, 2 idle workers", cpu_s=round(burned, 2), log_lines=lines)]
        )
    )
    assert burned <= 0.5, burned
    assert lines <= 2, fleet.logs()[-3000:]  # one line per outage per worker
    assert set(statuses.values()) == {"done"} and found.clean  # and they resumed by themselves


@pytest.mark.serial  # the cancelled painting stops within 5 s
def test_redis_killed_while_painting_a_cancel_still_stops_it_and_the_other_paints_to_done(
    fleet, redis_server, astronaut
):
    """Redis is kill -9'd with two paintings under way and stays away: a cancel (the database
    takes it) stops its painting at once, the other paints on and is done while Redis is
    still away; once it is back, both terminal events are announced and nothing ran twice."""
    key = fleet.run(fleet.store(astronaut))
    [long], payer = fleet.run(submit_paid(fleet, key, 1, steps=150, crop=384))
    [short], more = fleet.run(submit_paid(fleet, key, 1, steps=30, crop=128))
    fleet.start_worker()
    fleet.start_worker()
    wait_until(lambda: len(fleet.run(holders(fleet))) == 2, 180)
    fleet.run(wait_for_step(fleet, short, 2))
    redis_server.kill()
    [cancelled] = fleet.run(cancel(fleet, long))
    asked = time.monotonic()
    wait_until(lambda: "stopped: the job was cancelled" in fleet.logs(), 30, 0.1)
    stopped_s = time.monotonic() - asked
    away = fleet.run(wait_terminal(fleet, [short], timeout=240))  # Redis still away
    redis_server.start()
    statuses = fleet.run(wait_terminal(fleet, [long, short], timeout=30))
    found = fleet.run(audit(fleet, [long, short], payer | more))
    print("\n" + table([found.row("redis kill -9 while painting", stopped_s=round(stopped_s, 1))]))
    assert cancelled and stopped_s <= 5, fleet.logs()[-3000:]  # a renewal, then the next step
    assert away == {short: "done"}, fleet.logs()[-5000:]
    assert statuses == {long: "cancelled", short: "done"} and found.clean, found
    assert attempts(fleet, [long, short]) == {long: 1, short: 1}
    assert "handed back" not in fleet.logs() and "Traceback" not in fleet.logs()
