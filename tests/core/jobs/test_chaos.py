"""Chaos over 36 jobs: real workers, PostgreSQL, redis-server with AOF; at random moments
kill -9 and SIGTERM of workers, a Redis kill -9 and AOF restart, a PostgreSQL stop and start,
and cancels. Every job must end exactly once, be stored by one attempt, cost exactly what it
should, and leave an event log that replays cleanly. Prints the table for the closing note."""

import random
import signal
import time

import pytest

from core.store.migrate import upgrade
from tests.core.jobs.audit import audit, statuses, table, wait_terminal
from tests.core.jobs.chaos import holders, kill, process_of, submit_paid, wait_ready
from tests.services import PostgresServer, RedisServer
from tests.stack import HEARTBEAT_S, REAPER_S, Stack, wait_until

FLEET = 3
BATCH = 6  # submitted before each fault, so that every fault meets running jobs
BOUND_S = HEARTBEAT_S + 2 * REAPER_S  # lease expiry, then at most two reaper passes
LIVE = ("queued", "running")


@pytest.fixture
def services(tmp_path):
    postgres, folder = PostgresServer(), tmp_path / "redis"
    folder.mkdir()
    redis_server = RedisServer(folder, aof=True)
    postgres.create()
    upgrade(postgres.url)
    redis_server.start()
    yield postgres, redis_server
    redis_server.stop()
    postgres.remove()


@pytest.mark.serial  # every re-queue within the lease and two reaper passes
def test_chaos_every_job_ends_once(tmp_path, services, tiny_models, astronaut):
    postgres, redis_server = services
    stack = Stack(tmp_path, postgres.url, redis_server.url, tiny_models)
    rng = random.Random(2026)
    try:
        key = stack.run(stack.store(astronaut))
        job_ids, payer = [], {}
        faults, requeued, restarted = [], [], []
        for fault in rng.sample(FAULTS, len(FAULTS)):
            while sum(p.poll() is None for p in stack.workers) < FLEET:
                stack.start_worker(NARCIS_WORKER_GRACE_S="2")  # replace the fallen first
            wait_ready(stack, len(stack.workers))
            batch, paid = stack.run(submit_paid(stack, key, BATCH, steps=20))
            job_ids += batch
            payer |= paid
            wait_until(lambda: stack.run(holders(stack)), 120)
            time.sleep(rng.uniform(0.5, 3))
            faults.append(f"{fault.__name__} ({len(stack.run(holders(stack)))} running)")
            times = fault(stack, postgres, redis_server, job_ids, rng)
            requeued += times[:1]
            restarted += times[1:]
        final = stack.run(wait_terminal(stack, job_ids, timeout=300))
        found = stack.run(audit(stack, job_ids, payer))
    finally:
        stack.stop_workers()
    row = found.row(
        ", ".join(faults),
        requeued_after_kill_s=[round(t, 1) for t in requeued],
        running_again_s=[round(t, 1) for t in restarted],
        bound_s=BOUND_S,
    )
    print("\n" + table([row]))
    assert not found.stuck and found.clean, found
    assert set(final.values()) <= {"done", "cancelled"}, final
    assert requeued and all(t <= BOUND_S for t in requeued), requeued


def kill_worker(stack, postgres, redis_server, job_ids, rng) -> list[float]:
    """kill -9 a worker that holds a job; how long until its job is back on the queue, and
    until it runs again."""
    wait_until(lambda: stack.run(holders(stack)) or not stack.run(_unfinished(stack, job_ids)))
    running = stack.run(holders(stack))
    if not running:
        return []  # every job had ended already
    job_id, (worker, attempt) = rng.choice(sorted(running.items()))
    process = process_of(stack, worker)
    if process is None:
        return []
    killed = time.monotonic()
    kill(process)
    wait_until(lambda: stack.run(_where(stack, job_id)) != ("running", attempt), 60, 0.1)
    requeued = time.monotonic() - killed
    wait_until(lambda: stack.run(_where(stack, job_id))[1] > attempt, 60, 0.1)
    return [requeued, time.monotonic() - killed]


async def _unfinished(stack, job_ids: list[str]) -> list[str]:
    return [j for j, s in (await statuses(stack, job_ids)).items() if s in LIVE]


async def _where(stack, job_id: str) -> tuple[str, int]:
    import uuid

    from core.store.db import Database
    from core.store.models import Job

    db = Database(stack.database_url)
    try:
        async with db.session() as session:
            job = await session.get(Job, uuid.UUID(job_id))
            return job.status, job.attempts
    finally:
        await db.dispose()


def term_worker(stack, postgres, redis_server, job_ids, rng) -> list[float]:
    """SIGTERM a random worker (2 s grace: it hands its job back)."""
    process = rng.choice([p for p in stack.workers if p.poll() is None])
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    return []


def restart_redis(stack, postgres, redis_server, job_ids, rng) -> list[float]:
    redis_server.kill()
    time.sleep(3)
    redis_server.start()
    return []


def restart_postgres(stack, postgres, redis_server, job_ids, rng) -> list[float]:
    postgres.stop()
    time.sleep(5)
    postgres.start()
    return []


def cancel_some(stack, postgres, redis_server, job_ids, rng) -> list[float]:
    async def go():
        queue = stack.queue()
        try:
            unfinished = await _unfinished(stack, job_ids)
            for job_id in rng.sample(unfinished, min(4, len(unfinished))):
                await queue.cancel(job_id)
        finally:
            await queue.close()

    stack.run(go())
    return []


FAULTS = [kill_worker, kill_worker, term_worker, restart_redis, restart_postgres, cancel_some]
