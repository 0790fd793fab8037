"""The job spine under the faults a spot fleet sees, with real `narcis worker` processes:
retries running out, a database outage, cancels racing completion."""

import asyncio
import random
import signal
import time

import pytest

from core.jobs.lifecycle import GAVE_UP, RETRIES
from tests.core.jobs.audit import audit, table, wait_terminal
from tests.core.jobs.chaos import holders, kill, process_of, submit_paid, wait_ready
from tests.stack import HEARTBEAT_S, REAPER_S, wait_for_step, wait_until

PICKUP_BOUND_S = HEARTBEAT_S + 2 * REAPER_S  # lease expiry, then at most two reaper passes


@pytest.mark.serial  # each pickup within the lease and two reaper passes
def test_a_job_killed_out_of_retries_fails_once_and_refunds_without_a_restart(stack, astronaut):
    key = stack.run(stack.store(astronaut))
    [job_id], payer = stack.run(submit_paid(stack, key, 1, steps=150, crop=256))
    stack.start_worker()
    stack.start_worker()
    pickups = []
    for attempt in range(1, RETRIES + 1):
        wait_ready(stack, len(stack.workers))  # a live worker is there to take the job over
        wait_until(lambda a=attempt: stack.run(holders(stack)).get(job_id, ("", 0))[1] == a, 120)
        killed = time.monotonic()
        kill(process_of(stack, stack.run(holders(stack))[job_id][0]))
        if attempt < RETRIES:
            stack.start_worker()  # the fleet stays at two; none is started after the last kill
            wait_until(lambda a=attempt: stack.run(holders(stack)).get(job_id, ("", 0))[1] > a)
            pickups.append(time.monotonic() - killed)
    statuses = stack.run(wait_terminal(stack, [job_id], timeout=PICKUP_BOUND_S + 10))
    found = stack.run(audit(stack, [job_id], payer))
    print("\n" + table([found.row("kill -9 × 3", pickup_s=[round(p, 1) for p in pickups])]))
    assert statuses == {job_id: "failed"}, stack.logs()[-4000:]
    assert found.clean, found
    status = stack.run(_status(stack, job_id))
    assert (status.error, status.attempts) == (GAVE_UP, RETRIES)
    assert max(pickups) <= PICKUP_BOUND_S + 5  # plus the queue wait and the claim


async def _status(stack, job_id):
    queue = stack.queue()
    try:
        return await queue.status(job_id)
    finally:
        await queue.close()


def test_a_database_outage_is_ridden_out_and_nothing_runs_twice(stoppable_postgres, astronaut):
    server, stack = stoppable_postgres
    key = stack.run(stack.store(astronaut))
    job_ids, payer = stack.run(submit_paid(stack, key, 4, steps=60, crop=128))
    stack.start_worker()
    stack.start_worker()
    wait_until(lambda: len(stack.run(holders(stack))) == 2, 120)
    server.stop()
    time.sleep(8)
    server.start()
    back = time.monotonic()
    statuses = stack.run(wait_terminal(stack, job_ids, timeout=150))
    recovered_s = time.monotonic() - back
    found = stack.run(audit(stack, job_ids, payer))
    print("\n" + table([found.row("PostgreSQL stopped 8 s", after_s=round(recovered_s))]))
    assert set(statuses.values()) == {"done"}, stack.logs()[-6000:]
    assert found.clean, found
    outages = stack.logs().count("the database is not answering")
    assert 1 <= outages <= 2 * len(stack.workers)  # seen, and said once per outage


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancels_racing_completion_end_once_and_store_nothing(stack, astronaut):
    key = stack.run(stack.store(astronaut))
    job_ids, payer = stack.run(submit_paid(stack, key, 8, steps=6))
    stack.start_worker()
    stack.start_worker()
    won = stack.run(_cancel_at_random_steps(stack, job_ids, steps=6))
    statuses = stack.run(wait_terminal(stack, job_ids, timeout=240))
    found = stack.run(audit(stack, job_ids, payer))
    print("\n" + table([found.row("cancel at a random step (last included)", cancels=sum(won))]))
    assert found.clean, found
    for job_id, cancelled in zip(job_ids, won, strict=True):
        assert statuses[job_id] == ("cancelled" if cancelled else "done")
        stored = stack.run(stack.media.keys(f"portraits/{job_id}"))
        assert bool(stored) == (not cancelled), (job_id, stored)
    assert any(won) and "handed back" not in stack.logs()


async def _cancel_at_random_steps(stack, job_ids: list[str], steps: int) -> list[bool]:
    queue, rng = stack.queue(), random.Random(17)

    async def one(job_id: str, at: int, delay: float) -> bool:
        async for event in queue.events(job_id, timeout=240):
            if event.type == "step" and event.stage == "identity" and event.step >= at:
                await asyncio.sleep(delay)  # into the storing, or past the end
                return await queue.cancel(job_id)
            if event.type in ("done", "failed", "cancelled"):
                return await queue.cancel(job_id)  # too late: must say so
        return False

    try:
        # even jobs: cancelled mid-painting (the cancel must win); odd ones: at the last
        # step and a little after, racing the storing and the end
        draws = [
            (rng.randint(2, steps - 1), 0.0) if i % 2 == 0 else (steps, rng.uniform(0, 2))
            for i in range(len(job_ids))
        ]
        return list(
            await asyncio.gather(*(one(j, *d) for j, d in zip(job_ids, draws, strict=True)))
        )
    finally:
        await queue.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_frozen_worker_that_lost_its_lease_stops_at_the_next_step_and_stores_nothing(
    stack, astronaut
):
    key = stack.run(stack.store(astronaut))
    [job_id], payer = stack.run(submit_paid(stack, key, 1, steps=40, crop=128))
    stack.start_worker()
    stack.start_worker()
    stack.run(wait_for_step(stack, job_id, 2))
    frozen = process_of(stack, stack.run(holders(stack))[job_id][0])
    frozen.send_signal(signal.SIGSTOP)  # a stalled VM: alive, silent, then back
    wait_until(lambda: stack.run(holders(stack)).get(job_id, ("", 0))[1] == 2, 60)
    frozen.send_signal(signal.SIGCONT)
    wait_until(lambda: "stopped: the job was lost" in stack.logs(), 30)
    statuses = stack.run(wait_terminal(stack, [job_id], timeout=240))
    found = stack.run(audit(stack, [job_id], payer))
    events = stack.run(_history(stack, job_id))
    print("\n" + table([found.row("SIGSTOP the holder past its lease, then SIGCONT")]))
    assert statuses == {job_id: "done"} and found.clean, found
    assert [e.attempt for e in events if e.type == "started"] == [1, 2]
    frozen_log = (stack.root / f"worker-{stack.workers.index(frozen)}.log").read_text()
    assert "stopped: the job was lost" in frozen_log and "storing outputs" not in frozen_log


async def _history(stack, job_id: str):
    from core.jobs.events import history

    queue = stack.queue()
    try:
        return await history(queue.redis, job_id)
    finally:
        await queue.close()
