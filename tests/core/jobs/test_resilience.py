"""Losing Redis, many sessions at once, the face cache and the metrics endpoint."""

import asyncio
import urllib.request

import pytest
import redis

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.errors import CapacityError
from core.jobs.spec import PortraitSpec
from core.store.accounts import create_guest, tokens_left
from core.store.db import Database
from tests.services import free_port, running_redis
from tests.stack import Stack, wait_for

FAST = PortraitParams(
    composition=CompositionParams(prompt="ranch girl", width=64, height=64, steps=1),
    identity=IdentityParams(steps=1, crop_size=64),
    face_retries=0,
)


async def submit_many(stack: Stack, count: int, key: str) -> list[str]:
    queue = stack.queue()
    try:
        return [
            await queue.submit_portrait(PortraitSpec(references=[key], base=key, params=FAST))
            for _ in range(count)
        ]
    finally:
        await queue.close()


async def all_done(stack: Stack, job_ids: list[str], timeout: float = 300) -> list[str]:
    queue = stack.queue()
    try:
        finals = []
        for job_id in job_ids:
            events = await wait_for(queue, job_id, timeout)
            finals.append(events[-1].type)
        return finals
    finally:
        await queue.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_redis_restart_with_queued_jobs_loses_nothing(
    tmp_path, database_url, tiny_models, astronaut
):
    folder, port = tmp_path / "redis", free_port()
    folder.mkdir()
    persistent = ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    with running_redis(folder, port, extra=persistent) as url:
        stack = Stack(tmp_path, database_url, url, tiny_models)
        key = stack.run(stack.store(astronaut))
        job_ids = stack.run(submit_many(stack, 3, key))
    with running_redis(folder, port, extra=persistent) as url:  # same data folder, restarted
        assert redis.Redis.from_url(url).exists(*(f"saq:job:narcis:{j}" for j in job_ids)) == 3
        stack.start_worker()
        try:
            assert stack.run(all_done(stack, job_ids)) == ["done"] * 3, stack.logs()
        finally:
            stack.stop_workers()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_redis_that_lost_everything_is_refilled_from_the_database(stack, astronaut):
    key = stack.run(stack.store(astronaut))
    job_ids = stack.run(submit_many(stack, 2, key))
    redis.Redis.from_url(stack.redis_url).flushdb()  # a Redis without persistence restarted
    stack.start_worker()  # recovers unfinished jobs from the database at start-up
    assert stack.run(all_done(stack, job_ids)) == ["done", "done"], stack.logs()


def test_fifty_concurrent_submits_from_ten_sessions(stack, astronaut):
    async def go():
        db = Database(stack.database_url)
        guests = [await create_guest(db) for _ in range(10)]
        key = await stack.store(astronaut)
        queue = stack.queue()

        async def one(guest):
            try:
                return await queue.submit_portrait(
                    PortraitSpec(references=[key], base=key, params=FAST, session_id=str(guest.id))
                )
            except CapacityError:
                return None

        outcomes = await asyncio.gather(*(one(g) for g in guests for _ in range(6)))
        left = [await tokens_left(db, g.id) for g in guests]
        await queue.close()
        await db.dispose()
        return outcomes, left

    stack.start_worker()
    outcomes, left = stack.run(go())
    accepted = [job for job in outcomes if job is not None]
    assert len(accepted) == 50 and len(set(accepted)) == 50
    assert left == [0] * 10  # 5 tokens each, the sixth submit refused
    assert stack.run(all_done(stack, accepted, timeout=600)) == ["done"] * 50, stack.logs()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_returning_face_is_analysed_once_and_metrics_count_jobs(stack, astronaut):
    metrics_port = free_port()
    key = stack.run(stack.store(astronaut))
    first = stack.run(submit_many(stack, 1, key))
    stack.start_worker(NARCIS_METRICS_PORT=str(metrics_port))
    assert stack.run(all_done(stack, first)) == ["done"]
    again = stack.run(stack.store(astronaut, "same-face-again.png"))
    assert again == key  # stored once, by content
    second = stack.run(submit_many(stack, 2, key))
    assert stack.run(all_done(stack, second)) == ["done", "done"]

    async def analysis():
        from sqlalchemy import select

        from core.store.models import ReferenceFace

        db = Database(stack.database_url)
        async with db.session() as session:
            rows = (await session.scalars(select(ReferenceFace))).all()
        await db.dispose()
        return rows

    rows = stack.run(analysis())
    assert len(rows) == 1 and rows[0].analyzer == "dlib" and len(rows[0].embedding) == 128 * 4
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
    assert 'narcis_jobs_total{outcome="done"} 3.0' in text
    assert "narcis_stage_seconds_count" in text and "narcis_queue_depth" in text
