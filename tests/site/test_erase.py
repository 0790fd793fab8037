"""What was promised erased (issue 14): "erase all" takes everything of a person, from every
browser and both as guest and account, queued jobs included, and nothing of anyone else."""

from __future__ import annotations

import uuid

import redis
from PIL import ImageOps
from sqlalchemy import select, update

from core.jobs.fetch import FetchQueue
from core.jobs.outage import make_redis
from core.jobs.queue import QUEUE_NAME, JobQueue
from core.store.db import Database
from core.store.models import Job, Portrait, ReferenceFace
from tests.site.client import png
from tests.site.seed import seed_portraits
from tests.site.test_sessions import log_in, sign_up, tokens_on_me

IDEA = "erase me completely"


def job_id(response) -> str:
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1]


def new_browser(site) -> None:
    site.http.cookies.clear()


def everything(site) -> dict:
    """Every row, file and Redis value there is, as text to search."""

    async def scan(db, media):
        async with db.session() as session:
            portraits = (await session.scalars(select(Portrait))).all()
            jobs = (await session.scalars(select(Job))).all()
            faces = (await session.scalars(select(ReferenceFace))).all()
        rows = [f"{p.id} {p.idea} {p.session_id} {p.user_id}" for p in portraits]
        rows += [f"{j.id} {j.spec}" for j in jobs]
        rows += [f"{f.content_hash} {f.storage_key} {f.session_id}" for f in faces]
        files = await media.keys("faces") + await media.keys("portraits")
        return rows, files

    rows, files = site.run(scan)
    client = redis.Redis.from_url(site.settings.redis_url)
    values = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        dump = {
            "string": lambda k: client.get(k),
            "list": lambda k: client.lrange(k, 0, -1),
            "hash": lambda k: client.hgetall(k),
            "set": lambda k: client.smembers(k),
            "zset": lambda k: client.zrange(k, 0, -1),
        }.get(kind, lambda k: b"")(key)
        values.append(f"{key!r} {dump!r}")
    client.close()
    return {"db": "\n".join(rows), "media": "\n".join(files), "redis": "\n".join(values)}


def test_erase_all_leaves_nothing_in_the_database_media_or_redis(site, astronaut) -> None:
    face = png(astronaut)
    # Browser A: two portraits as a guest, then signs up (its tokens and portraits move over).
    mine = [job_id(site.make([("me.png", face)], idea=IDEA)) for _ in range(2)]
    sign_up(site, "ada@example.org")
    # Browser B: logs in and uploads once more; a finished portrait on the wall is theirs too.
    new_browser(site)
    log_in(site, "ada@example.org", "long enough")
    mine.append(job_id(site.make([("other.png", png(ImageOps.mirror(astronaut)))], idea=IDEA)))
    (done,) = site.run(lambda db, media: seed_portraits(db, media, 1))
    site.run(lambda db, media: _give(db, done, mine[-1]))
    mine.append(done)
    assert done in site.http.get("/").text
    # Someone else uploads the very same photo: it must survive Ada's erase.
    new_browser(site)
    theirs = job_id(site.make([("same.png", face)], idea="someone else"))
    their_cookies = dict(site.http.cookies)
    # Browser C: Ada logs in with no guest session of her own here, and erases everything.
    new_browser(site)
    log_in(site, "ada@example.org", "long enough")
    assert tokens_on_me(site) == 2
    assert site.post_form("/me/delete", {}, "/me").status_code == 303
    assert tokens_on_me(site) == 5  # her three queued jobs were cancelled and refunded

    left = everything(site)
    for pid in mine:
        for place, text in left.items():
            assert pid not in text, f"{pid} left in {place}"
    for place, text in left.items():
        assert IDEA not in text, f"the idea is left in {place}"
    assert done not in site.http.get("/").text
    assert site.http.get(f"/jobs/{mine[0]}").status_code == 404
    # The other visitor's job, photo and file are untouched.
    assert theirs in left["db"] and left["media"].count("faces/") == 1
    new_browser(site)
    for name, value in their_cookies.items():
        site.http.cookies.set(name, value)
    assert theirs in site.http.get("/me").text
    assert _queued_status(site, theirs) == "queued"


async def _give(db, portrait_id: str, like: str) -> None:
    """Make the seeded portrait belong to whoever owns the job `like`."""
    async with db.session() as session:
        owner = await session.get(Portrait, uuid.UUID(like))
        await session.execute(
            update(Portrait)
            .where(Portrait.id == uuid.UUID(portrait_id))
            .values(user_id=owner.user_id, session_id=owner.session_id, idea=IDEA)
        )


def _queued_status(site, job: str) -> str:
    async def status(db, media):
        async with db.session() as session:
            return (await session.get(Job, uuid.UUID(job))).status

    return site.run(status)


def test_a_guest_erases_and_a_logged_in_person_without_a_guest_too(site, astronaut) -> None:
    job_id(site.make([("me.png", png(astronaut))]))
    assert site.post_form("/me/delete", {}, "/me").status_code == 303
    assert "Nothing yet" in site.http.get("/me").text
    sign_up(site, "bo@example.org")
    job_id(site.make([("me.png", png(astronaut))]))
    new_browser(site)
    log_in(site, "bo@example.org", "long enough")
    site.post_form("/me/delete", {}, "/me")
    assert "Nothing yet" in site.http.get("/me").text
    assert everything(site)["media"] == ""


def test_reference_photos_belong_to_their_uploader(site, astronaut) -> None:
    face = png(astronaut)
    job_id(site.make([("me.png", face)]))
    new_browser(site)
    job_id(site.make([("me.png", face)]))
    keys = everything(site)["media"].split("\n")
    assert len(keys) == 2 and len({k.rsplit("/", 1)[1] for k in keys}) == 1  # same picture


def hold_schedule_lock(site) -> None:
    """A running worker's scheduler lock, taken by SAQ's own code exactly as a worker takes it
    (a plain string at saq:narcis:schedule, beside SAQ's lists)."""

    async def take(db, media):
        queue = FetchQueue(make_redis(site.settings.redis_url), name=QUEUE_NAME)
        await queue.schedule(lock=600)
        await queue.disconnect()

    site.run(take)


def _on_the_wall_and_mine(site, astronaut) -> tuple[str, str]:
    """A queued job of this browser's guest, and a finished portrait of theirs on the wall
    (whose page is now cached)."""
    queued = job_id(site.make([("me.png", png(astronaut))], idea=IDEA))
    (done,) = site.run(lambda db, media: seed_portraits(db, media, 1))
    site.run(lambda db, media: _give(db, done, queued))
    assert done in site.http.get("/").text
    assert done in everything(site)["redis"]  # the cached wall page shows it
    return queued, done


def test_erase_beside_a_running_worker_purges_the_cached_wall(site, astronaut) -> None:
    hold_schedule_lock(site)
    queued, done = _on_the_wall_and_mine(site, astronaut)
    assert site.post_form("/me/delete", {}, "/me").status_code == 303  # was: a 500, WRONGTYPE
    left = everything(site)
    for place, text in left.items():
        assert queued not in text and done not in text, f"left in {place}"
    assert done not in site.http.get("/").text
    lock = redis.Redis.from_url(site.settings.redis_url)
    assert lock.type("saq:narcis:schedule") == b"string"  # the worker's lock is left alone
    lock.close()


def test_an_erase_that_stopped_half_way_is_finished_by_the_next(site, astronaut) -> None:
    queued, done = _on_the_wall_and_mine(site, astronaut)
    site.run(lambda db, media: _cancel(site, queued))  # finished: the erase has none to cancel
    control = redis.Redis.from_url(site.settings.redis_url)
    control.config_set("min-replicas-to-write", 1)  # Redis refuses every write now
    try:
        assert site.post_form("/me/delete", {}, "/me").status_code >= 500
    finally:
        control.config_set("min-replicas-to-write", 0)
        control.close()
    assert site.post_form("/me/delete", {}, "/me").status_code == 303
    for place, text in everything(site).items():
        assert queued not in text and done not in text, f"left in {place}"
    assert done not in site.http.get("/").text


async def _cancel(site, job: str) -> None:
    queue = JobQueue(site.settings.redis_url, Database(site.settings.database))
    try:
        assert await queue.cancel(job)
    finally:
        await queue.close()
        await queue.db.dispose()
