"""Submit → queue → a real `narcis worker` process on tiny models → results, on both databases."""

import io
import json
import signal
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import LIKENESS_CHUNK
from core.jobs.spec import PortraitSpec
from core.store.db import Database
from core.store.models import Job, Portrait
from tests.stack import wait_for, wait_for_step

PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=2),
    identity=IdentityParams(steps=3, crop_size=64),
    face_retries=0,
)
SLOW = PARAMS.model_copy(update={"identity": IdentityParams(steps=60, crop_size=256)})


async def submit(stack, astronaut, params=PARAMS, **spec) -> str:
    key = await stack.store(astronaut, "astronaut.png")
    queue = stack.queue()
    try:
        return await queue.submit_portrait(
            PortraitSpec(references=[key], base=key, params=params, **spec)
        )
    finally:
        await queue.close()


async def finish(stack, job_id: str, timeout: float = 180):
    queue = stack.queue()
    try:
        events = await wait_for(queue, job_id, timeout)
        return events, await queue.status(job_id)
    finally:
        await queue.close()


async def rows(stack, job_id: str):
    db = Database(stack.database_url)
    try:
        async with db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Portrait))
            return (
                count,
                await session.get(Job, uuid.UUID(job_id)),
                await session.get(Portrait, uuid.UUID(job_id)),
            )
    finally:
        await db.dispose()


def test_submit_to_done_with_media_derivatives_thumbhash_and_ordered_events(stack, astronaut):
    job_id = stack.run(submit(stack, astronaut))
    stack.start_worker()
    events, status = stack.run(finish(stack, job_id))

    kinds = [e.type for e in events]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "done", stack.logs()
    steps = [(e.stage, e.step, e.total) for e in events if e.type == "step"]
    assert steps == [("identity", i, 3) for i in (1, 2, 3)]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert status.status == "done" and status.attempts == 1
    files = stack.run(stack.media.keys(f"portraits/{job_id}"))
    assert sorted(k.rsplit("/", 1)[1] for k in files) == [
        "320.avif",
        "320.jpg",
        "320.webp",
        "final.png",
    ]
    assert events[-1].result["final"] == f"portraits/{job_id}/1/final.png"
    count, job, portrait = stack.run(rows(stack, job_id))
    assert count == 1 and portrait.thumbhash and (portrait.width, portrait.height) == (512, 512)
    assert portrait.parameters["identity"]["steps"] == 3 and job.timings["identity"] > 0
    assert '"job_id": "' + job_id + '"' in stack.logs()  # JSON logs carry the job id
    # Every portrait is scored against its references (a face may be missing on tiny models).
    assert portrait.likeness_analyzer == "dlib-128"
    assert portrait.likeness is None or 0 < portrait.likeness <= 1
    png = stack.run(stack.media.get(events[-1].result["final"]))  # the file carries it too
    stored = json.loads(Image.open(io.BytesIO(png)).text[LIKENESS_CHUNK])
    assert (stored["score"], stored["analyzer"]) == (portrait.likeness, "dlib-128")


def test_resubmitting_the_same_spec_is_a_no_op(stack, astronaut):
    async def twice():
        key = await stack.store(astronaut)
        spec = PortraitSpec(references=[key], base=key, params=PARAMS)
        queue = stack.queue()
        try:
            first = await queue.submit_portrait(spec)
            second = await queue.submit_portrait(spec)
            return first, second, await queue.saq.count("queued")
        finally:
            await queue.close()

    first, second, queued = stack.run(twice())
    assert first == second and queued == 1
    assert stack.run(rows(stack, first))[0] == 1


def test_a_photo_without_face_fails_once_and_refunds(stack, camera, astronaut):
    from core.store.accounts import create_guest, tokens_left

    async def go():
        db = Database(stack.database_url)
        guest = await create_guest(db)
        base = await stack.store(astronaut)
        bad = await stack.store(camera, "camera.png")
        queue = stack.queue()
        job_id = await queue.submit_portrait(
            PortraitSpec(references=[bad], base=base, params=PARAMS, session_id=str(guest.id))
        )
        after_submit = await tokens_left(db, guest.id)
        events = await wait_for(queue, job_id)
        status = await queue.status(job_id)
        left = await tokens_left(db, guest.id)
        await queue.close()
        await db.dispose()
        return events, status, after_submit, left

    stack.start_worker()
    events, status, after_submit, left = stack.run(go())
    assert events[-1].type == "failed" and events[-1].reason.startswith("no face found in photo 1")
    assert status.status == "failed" and status.attempts == 1  # not retried
    assert (after_submit, left) == (4, 5)


def test_kill_minus_nine_mid_job_then_another_worker_completes_it_once(stack, astronaut):
    job_id = stack.run(submit(stack, astronaut, params=SLOW))
    first = stack.start_worker()

    stack.run(wait_for_step(stack, job_id, 2))
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    stack.start_worker()
    events, status = stack.run(finish(stack, job_id, timeout=240))
    assert events[-1].type == "done", stack.logs()
    assert status.attempts == 2
    assert [e.type for e in events].count("done") == 1
    count, _, _ = stack.run(rows(stack, job_id))
    assert count == 1
    assert len(stack.run(stack.media.keys(f"portraits/{job_id}"))) == 4


def test_sigterm_hands_the_job_back_and_it_is_not_lost(stack, astronaut):
    job_id = stack.run(submit(stack, astronaut, params=SLOW))
    first = stack.start_worker(NARCIS_WORKER_GRACE_S="1")

    stack.run(wait_for_step(stack, job_id, 1))
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0
    assert "handed back to the queue" in stack.logs()
    _, job, _ = stack.run(rows(stack, job_id))
    assert job.status == "queued"
    stack.start_worker()
    events, status = stack.run(finish(stack, job_id, timeout=240))
    assert events[-1].type == "done" and status.status == "done", stack.logs()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancel_a_queued_job_refunds_and_the_worker_skips_it(stack, astronaut):
    from core.store.accounts import create_guest, tokens_left

    async def go():
        db = Database(stack.database_url)
        guest = await create_guest(db)
        job_id = await submit(stack, astronaut, session_id=str(guest.id))
        queue = stack.queue()
        cancelled = await queue.cancel(job_id)
        again = await queue.cancel(job_id)
        events = await wait_for(queue, job_id, timeout=10)
        left = await tokens_left(db, guest.id)
        await queue.close()
        await db.dispose()
        return cancelled, again, [e.type for e in events], left

    cancelled, again, kinds, left = stack.run(go())
    assert (cancelled, again, kinds, left) == (True, False, ["queued", "cancelled"], 5)
