"""Leases with real `narcis worker` processes: a live attempt never loses its job — not to a
worker whose clock runs ahead, not under load — a dead one's job is taken on time, a stalled one
writes nothing once it lost its job, and an idle worker stops at once on SIGTERM."""

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest
import redis

from core.jobs.reaper import LOCK
from core.store.db import Database
from tests.core.jobs.audit import audit, table, wait_terminal
from tests.core.jobs.chaos import (
    attempts,
    cancel,
    holders,
    kill,
    process_of,
    submit_paid,
    wait_ready,
)
from tests.core.jobs.skew import FAKETIME, ahead
from tests.stack import HEARTBEAT_S, REAPER_S, Stack, wait_for_step, wait_until

pytestmark = pytest.mark.serial  # lease deadlines and reaper intervals, with real processes
AHEAD = ahead(120)  # a host whose clock runs 120 s ahead (its monotonic clock is its own)
TAKEN = ("stopped answering", "the job was lost")  # what a worker logs when a job is taken


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_whose_clock_runs_120_s_ahead_takes_nothing_idle_or_busy(stack, astronaut):
    """Whichever of the two takes the first job, one sweeps idle beside the other's painting,
    then both paint: the worker ahead is the idle one, or its leases look 120 s longer."""
    assert FAKETIME.exists(), "libfaketime is missing: run scripts/setup.sh"
    key = stack.run(stack.store(astronaut))
    stack.start_worker()
    ahead = stack.start_worker(**AHEAD)
    wait_ready(stack, 2)
    # 1024²: minutes on any CPU, so it is live until the cancel (384² can end within the test)
    [first], payer = stack.run(submit_paid(stack, key, 1, steps=150, crop=1024))
    wait_until(lambda: first in stack.run(holders(stack)), 30, 0.1)
    time.sleep(3 * REAPER_S)  # one paints, the other's reaper sweeps
    [second], more = stack.run(submit_paid(stack, key, 1, steps=30, crop=128))
    wait_until(lambda: second in stack.run(holders(stack)), 30, 0.1)
    busy = stack.run(holders(stack))
    time.sleep(3 * REAPER_S)  # both paint, both reapers sweep
    stack.run(wait_terminal(stack, [second], timeout=180))  # slow under load: fine
    stack.run(cancel(stack, first))  # long enough for any machine's speed: stop it here
    statuses = stack.run(wait_terminal(stack, [first, second], timeout=30))
    found = stack.run(audit(stack, [first, second], payer | more))
    idle_one = "ahead" if busy[second][0].endswith(f"-{ahead.pid}") else "on time"
    print("\n" + table([found.row(f"120 s ahead beside on time; idle first: {idle_one}")]))
    assert len(busy) == 2 and busy[first][0] != busy[second][0], busy
    assert statuses == {first: "cancelled", second: "done"}, stack.logs()[-4000:]
    assert attempts(stack, [first, second]) == {first: 1, second: 1}, stack.logs()[-4000:]
    assert not any(t in stack.logs() for t in TAKEN), stack.logs()[-4000:]
    assert found.clean, found


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_busy_workers_sweep_on_time_in_turns_and_one_killed_has_its_job_requeued_in_time(
    stack, astronaut
):
    """While both paint, their reapers' passes (read from the sweep lock in Redis) follow each
    other within the schedule and move between the workers; then one is killed mid-painting."""
    key = stack.run(stack.store(astronaut))
    job_ids, payer = stack.run(submit_paid(stack, key, 2, steps=150, crop=1024))  # live till cancel
    stack.start_worker()
    stack.start_worker()
    wait_ready(stack, 2, timeout=300)  # loading the models takes minutes on a loaded machine
    wait_until(lambda: len(stack.run(holders(stack))) == 2, 60, 0.1)
    passes = sweeps(stack, 6 * REAPER_S)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(passes)]
    owners = Counter(owner for _, owner in passes)
    busy = len(stack.run(holders(stack)))  # both still painting all along
    victim, (worker, _) = sorted(stack.run(holders(stack)).items())[0]
    killed = time.monotonic()
    kill(process_of(stack, worker))
    wait_until(lambda: victim not in stack.run(holders(stack)), 30, 0.1)
    requeued_s = time.monotonic() - killed
    stack.run(cancel(stack, *job_ids))  # both long: what counts is done
    statuses = stack.run(wait_terminal(stack, job_ids, timeout=30))
    found = stack.run(audit(stack, job_ids, payer))
    row = found.row(
        "kill -9 one of two busy",
        passes=len(passes),
        gaps_s=f"{min(gaps):.2f}-{max(gaps):.2f}",
        owners=sorted(owners.values()),
        requeued_s=round(requeued_s, 1),
    )
    print("\n" + table([row]) + "\npass times (s): " + " ".join(f"{t:.2f}" for t, _ in passes))
    assert busy == 2
    assert max(gaps) <= 1.5 * REAPER_S, passes  # 0.9-1.2 intervals apart, plus a loop's delay
    assert len(owners) == 2 and min(owners.values()) >= 2, owners  # the turns move
    assert requeued_s <= HEARTBEAT_S + 2 * REAPER_S  # the lease, then two reaper intervals
    assert set(statuses.values()) == {"cancelled"} and found.clean, found
    assert attempts(stack, job_ids) == {j: 1 for j in job_ids}
    assert "the job was lost" not in stack.logs()  # the live one kept its job


def sweeps(stack: Stack, seconds: float) -> list[tuple[float, str]]:
    """The reapers' passes in the next `seconds`: (when, by whom), sampled from the sweep lock
    that each pass sets (a fresh lock: it appeared, or its time to live went up)."""
    client = redis.Redis.from_url(stack.redis_url)
    passes, last_ttl, started = [], -2, time.monotonic()
    try:
        while (now := time.monotonic() - started) < seconds:
            with client.pipeline() as pipe:
                owner, ttl = pipe.get(LOCK).pttl(LOCK).execute()
            if ttl > last_ttl + 100:  # PTTL is -2 while there is no lock
                passes.append((now, owner.decode()))
            last_ttl = ttl
            time.sleep(0.02)
    finally:
        client.close()
    return passes[1:]  # the first may be a pass that began before we looked


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_job_painted_at_low_priority_while_every_core_is_hogged_is_done_on_attempt_1(
    stack, astronaut
):
    key = stack.run(stack.store(astronaut))
    stack.start_worker(wrap=("nice", "-n", "10"))
    wait_ready(stack, 1)
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        job_ids, payer = stack.run(submit_paid(stack, key, 1, steps=8, crop=64))
        statuses = stack.run(wait_terminal(stack, job_ids, timeout=120))
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    found = stack.run(audit(stack, job_ids, payer))
    print("\n" + table([found.row("nice 10 beside two busy loops per core")]))
    assert set(statuses.values()) == {"done"}, stack.logs()[-4000:]
    assert attempts(stack, job_ids) == {job_ids[0]: 1}
    assert not any(t in stack.logs() for t in TAKEN) and found.clean, found


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_worker_stopped_past_its_lease_near_the_end_writes_nothing_once_resumed(stack, astronaut):
    key = stack.run(stack.store(astronaut))
    [job_id], payer = stack.run(submit_paid(stack, key, 1, steps=12, crop=128))
    stack.start_worker()
    stack.start_worker()
    stack.run(wait_for_step(stack, job_id, 10))  # two steps left: a zombie would store
    frozen = process_of(stack, stack.run(holders(stack))[job_id][0])
    frozen.send_signal(signal.SIGSTOP)
    wait_until(lambda: stack.run(holders(stack)).get(job_id, ("", 0))[1] == 2, 60, 0.1)
    frozen.send_signal(signal.SIGCONT)
    statuses = stack.run(wait_terminal(stack, [job_id], timeout=120))
    wait_until(lambda: "the job was lost" in _log_of(stack, frozen), 30)
    found = stack.run(audit(stack, [job_id], payer))
    print("\n" + table([found.row("SIGSTOP two steps before the end, past the lease")]))
    assert statuses == {job_id: "done"} and found.clean, found
    assert not stack.run(stack.media.keys(f"portraits/{job_id}/1/"))
    assert "storing outputs" not in _log_of(stack, frozen), _log_of(stack, frozen)[-3000:]


def _log_of(stack: Stack, process: subprocess.Popen) -> str:
    return (stack.root / f"worker-{stack.workers.index(process)}.log").read_text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_idle_worker_exits_at_once_on_sigterm_and_takes_no_new_job(stack, astronaut):
    key = stack.run(stack.store(astronaut))
    idle = stack.start_worker()
    wait_ready(stack, 1)
    time.sleep(1)
    idle.send_signal(signal.SIGTERM)
    started = time.monotonic()
    [job_id], _ = stack.run(submit_paid(stack, key, 1, steps=2))
    assert idle.wait(timeout=30) == 0
    exited_s = time.monotonic() - started
    print(f"\nidle worker exited {exited_s:.1f} s after SIGTERM")
    assert exited_s <= 5, stack.logs()[-2000:]  # it waited out a 10 s upkeep sleep
    assert stack.run(holders(stack)) == {} and "started attempt" not in stack.logs()
    assert attempts(stack, [job_id]) == {job_id: 0}


def test_a_read_only_database_is_one_outage_and_takes_no_live_job(stoppable_postgres, astronaut):
    server, stack = stoppable_postgres
    key = stack.run(stack.store(astronaut))
    # 150 steps at 1024²: minutes of painting on any CPU, so the job is certainly live through
    # the outage (at 384² a quiet machine finished it first); the cancel lands between steps
    [job_id], payer = stack.run(submit_paid(stack, key, 1, steps=150, crop=1024))
    stack.start_worker()
    stack.start_worker()
    wait_until(lambda: job_id in stack.run(holders(stack)), 120, 0.1)
    wait_ready(stack, 2)
    holder = stack.run(holders(stack))[job_id]
    stack.run(_read_only(server, True))  # a failover to a standby: reads work, writes fail
    time.sleep(5 * REAPER_S)
    stack.run(_read_only(server, False))
    wait_until(lambda: stack.logs().count("the database is back") >= 2, 30)
    time.sleep(2 * HEARTBEAT_S)  # time for a reaper to take the job, if it would
    still = stack.run(holders(stack))
    assert still == {job_id: holder}, stack.logs()[-6000:]  # live, same worker, attempt 1
    stack.run(cancel(stack, job_id))
    statuses = stack.run(wait_terminal(stack, [job_id], timeout=30))
    found = stack.run(audit(stack, [job_id], payer))
    logs = stack.logs()
    lines = (logs.count("the database is not answering"), logs.count("the database is back"))
    print("\n" + table([found.row("PostgreSQL read-only 10 s", outage_lines=lines)]))
    assert lines == (2, 2), logs[-4000:]  # one outage, one recovery, per worker
    assert statuses == {job_id: "cancelled"} and found.clean, found
    assert attempts(stack, [job_id]) == {job_id: 1}
    assert not any(t in logs for t in TAKEN) and "Traceback" not in logs, logs[-4000:]


async def _read_only(server, on: bool) -> None:
    import asyncpg

    name = "default_transaction_read_only"
    setting = f"SET {name} = on" if on else f"RESET {name}"
    connection = await asyncpg.connect(server.url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f"ALTER SYSTEM {setting}")
        await connection.execute("SELECT pg_reload_conf()")  # open sessions take it too
    finally:
        await connection.close()


def test_the_face_cache_rides_out_a_read_only_database(stoppable_postgres, caplog):
    """The reference's face analysis is only cached: a standby that refuses writes costs the
    cache, never the paid attempt (it used to raise, and the attempt was handed back)."""
    from types import SimpleNamespace

    from core.diffusion.faces.analysis import FaceChoice, face_from_box
    from core.jobs.run import JobRun

    server, _ = stoppable_postgres
    choice = FaceChoice(face_from_box((0.3, 0.2, 0.7, 0.6), (512, 512)), 1)

    async def go():
        db = Database(server.url)
        attempt = JobRun(SimpleNamespace(db=db), None, str(uuid.uuid4()))
        try:
            await _read_only(server, True)
            await attempt.cache_face("references/a.png", "dlib", choice)  # refused: carries on
            missed = await attempt.cached_face("references/a.png", "dlib")
            await _read_only(server, False)
            await attempt.cache_face("references/a.png", "dlib", choice)
            await attempt.cache_face("references/a.png", "dlib", choice)  # again: one row
            return missed, await attempt.cached_face("references/a.png", "dlib")
        finally:
            await db.dispose()

    missed, cached = asyncio.run(go())
    assert missed is None
    assert cached is not None and cached.face.box == choice.face.box and cached.found == 1
    assert "Traceback" not in caplog.text
