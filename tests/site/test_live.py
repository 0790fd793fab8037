"""Against a running `narcis serve` with a real Redis (and PostgreSQL): ten real browsers
submitting in parallel, hundreds of open walls, and /health while big photos are checked."""

from __future__ import annotations

import asyncio
import base64
import io
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import redis
from photowall.wall import NEW_CHANNEL
from PIL import Image
from playwright.sync_api import sync_playwright
from sqlalchemy import func, select

from core.jobs.events import JobEvent, publish
from core.store.db import Database
from core.store.models import GuestSession, Portrait
from tests.site.test_browser import CHROMIUM, FLAGS

BROWSERS, SUBMITS = 10, 6  # a guest has 5 tokens: the sixth must be refused, cleanly

SUBMIT_ALL = """async ([photo, count]) => {
  const token = document.querySelector("input[name=_csrf_token]").value;
  const bytes = Uint8Array.from(atob(photo), c => c.charCodeAt(0));
  const one = async () => {
    const form = new FormData();
    form.append("_csrf_token", token);
    form.append("idea", "byzantine emperor");
    form.append("style", "none");
    form.append("photos", new Blob([bytes], {type: "image/png"}), "me.png");
    const response = await fetch("/make", {method: "POST", body: form});
    return response.url.includes("/jobs/") ? "made" : String(response.status);
  };
  return Promise.all(Array.from({length: count}, one));
}"""

ERASE = """async () => {
  const token = document.querySelector("form.erase input[name=_csrf_token]").value;
  const form = new FormData();
  form.append("_csrf_token", token);
  return (await fetch("/me/delete", {method: "POST", body: form})).status;
}"""


def _count(database_url: str, *what) -> list[int]:
    """Rows of each model (in a thread: Playwright's sync API owns this thread's loop)."""

    async def go() -> list[int]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                return [await session.scalar(select(func.count()).select_from(m)) for m in what]
        finally:
            await db.dispose()

    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, go()).result()


def test_parallel_first_submits_of_ten_browsers_share_one_guest_each(
    stack, server, astronaut
) -> None:
    buffer = io.BytesIO()
    astronaut.resize((256, 256)).save(buffer, format="PNG")  # small: the race is the point
    photo = base64.b64encode(buffer.getvalue()).decode()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pages = [browser.new_context().new_page() for _ in range(BROWSERS)]
        for page in pages:
            page.goto(server + "/make")  # the first visit: no guest yet, only a form token
        started = time.monotonic()
        for number, page in enumerate(pages):  # all 60 submits in flight together
            page.evaluate(f"window.made{number} = ({SUBMIT_ALL})([{photo!r}, {SUBMITS}])")
        results = [sorted(page.evaluate(f"window.made{n}")) for n, page in enumerate(pages)]
        took = time.monotonic() - started
        mine = []
        for page in pages:
            page.goto(server + "/me")
            mine.append(page.locator("figure.tile").count())
        guests, portraits = _count(stack.database_url, GuestSession, Portrait)
        erased = []
        for page in pages:
            erased.append(page.evaluate(ERASE))
        left = _count(stack.database_url, Portrait)[0]
        browser.close()
    print(f"{BROWSERS} browsers × {SUBMITS} parallel submits: {took:.1f} s")
    assert results == [["402"] + ["made"] * 5] * BROWSERS, stack.root.joinpath("web.log")
    assert mine == [5] * BROWSERS and (guests, portraits) == (BROWSERS, 5 * BROWSERS)
    assert erased == [200] * BROWSERS and left == 0
    assert "Traceback" not in (stack.root / "web.log").read_text()


WALLS = 300


async def _open_walls(url: str, count: int) -> list[tuple[asyncio.StreamReader, object]]:
    host, port = url.removeprefix("http://").split(":")
    streams = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(f"GET /events/wall HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        streams.append((reader, writer))
    for reader, _ in streams:
        assert b"200" in await asyncio.wait_for(reader.readline(), 10)
    return streams


async def _news_reaches_every_wall(url: str, redis_url: str) -> tuple[int, int]:
    streams = await _open_walls(url, WALLS)
    client = redis.asyncio.Redis.from_url(redis_url)
    subscriptions = (await client.pubsub_numsub(NEW_CHANNEL))[0][1]
    await client.publish(NEW_CHANNEL, "1")

    async def hears(reader: asyncio.StreamReader) -> bool:
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            if b"1 new portrait" in line:
                return True

    heard = sum(await asyncio.gather(*(hears(r) for r, _ in streams)))
    for _, writer in streams:
        writer.close()
    await client.aclose()
    return subscriptions, heard


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_subscription_per_process_serves_every_open_wall(stack, server) -> None:
    subscriptions, heard = asyncio.run(_news_reaches_every_wall(server, stack.redis_url))
    assert (subscriptions, heard) == (1, WALLS)


def twelve_megapixels(astronaut) -> bytes:
    """A 4000×3000 phone-sized photo: the astronaut, scaled up, on a wider background, with a
    sensor's grain so that it weighs what a phone's photo weighs (≈ 3.5 MB, not 0.8)."""
    canvas = Image.new("RGB", (4000, 3000), (90, 90, 90))
    canvas.paste(astronaut.resize((3000, 3000)), (500, 0))
    grain = np.random.default_rng(0).normal(0, 9, (3000, 4000, 3))
    noisy = np.clip(np.asarray(canvas) + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


CHECKED = {303, 402}  # the photo was checked: queued, or checked and then out of tokens


async def upload_until(url: str, photo: bytes, done: Callable[[], bool], statuses: Counter) -> None:
    """One client sending `photo` to /make back to back until `done()`: each answer's status
    counted ("timeout" for one that took over a minute). Several clients may share `statuses`
    when they run on one event loop: each increment happens between two awaits."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while not done():
            # A fresh form each time: the first upload opens a session, whose token is new
            page = (await client.get("/make")).text
            token = page.split('name="_csrf_token" value="')[1].split('"')[0]
            try:
                answer = await client.post(
                    "/make",
                    data={"_csrf_token": token, "idea": "byzantine emperor", "style": "none"},
                    files=[("photos", ("phone.jpg", photo, "image/jpeg"))],
                )
            except httpx.TimeoutException:
                statuses["timeout"] += 1
                continue
            statuses[answer.status_code] += 1


def health_during_uploads(
    url: str, photo: bytes, seconds: float, uploaders: int = 4
) -> tuple[list[float], Counter]:
    """/health latencies (ms), and the uploads' answers by status, while `uploaders` clients
    send 12 MP photos back to back."""
    import httpx

    async def prober(stop: float) -> list[float]:
        latencies = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            while time.monotonic() < stop:
                start = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                latencies.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(0.01)
        return latencies

    async def go() -> tuple[list[float], Counter]:
        stop, statuses = time.monotonic() + seconds, Counter()
        done = lambda: time.monotonic() >= stop  # noqa: E731
        tasks = [
            asyncio.create_task(upload_until(url, photo, done, statuses)) for _ in range(uploaders)
        ]
        await asyncio.sleep(1)  # the uploads are under way
        latencies = await prober(stop)
        await asyncio.gather(*tasks)
        return latencies, statuses

    return asyncio.run(go())


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


@pytest.mark.serial
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_health_answers_quickly_while_big_photos_are_checked(stack, server, astronaut) -> None:
    latencies, statuses = health_during_uploads(server, twelve_megapixels(astronaut), seconds=12)
    print(f"/health p99 {p99(latencies):.1f} ms over {len(latencies)} probes, uploads {statuses}")
    # The bar is 50 ms on a dedicated machine; this one is shared by several builds.
    assert set(statuses) <= CHECKED and statuses.total() >= 4, statuses  # every photo checked
    assert len(latencies) > 100
    assert p99(latencies) < 120 and max(latencies) < 1000  # main: p99 151 ms, max 1.9 s


JOB_PAGES = 1000


async def _job_pages(url: str, redis_url: str, job: str) -> tuple[int, int, int]:
    """Redis connections before and while JOB_PAGES job-page streams are open, and how many
    of them heard one progress event."""
    client = redis.asyncio.Redis.from_url(redis_url)
    before = len(await client.client_list())
    host, port = url.removeprefix("http://").split(":")
    streams = []
    for start in range(0, JOB_PAGES, 250):  # the listen backlog is finite

        async def one():
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET /jobs/{job}/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert b"200" in await asyncio.wait_for(reader.readline(), 30)
            return reader, writer

        streams += await asyncio.gather(*(one() for _ in range(min(250, JOB_PAGES - start))))
    await asyncio.sleep(2)  # every stream has read the job's log and waits
    held = len(await client.client_list())
    await publish(client, JobEvent(job_id=job, type="step", stage="identity", step=1, total=9))

    async def hears(reader: asyncio.StreamReader) -> bool:
        while True:
            if b"event: progress" in await asyncio.wait_for(reader.readline(), 30):
                return True

    heard = sum(await asyncio.gather(*(hears(r) for r, _ in streams)))
    for _, writer in streams:
        writer.close()
    await client.aclose()
    return before, held, heard


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_thousand_job_pages_hold_at_most_two_redis_connections(stack, server, astronaut) -> None:
    import httpx

    buffer = io.BytesIO()
    astronaut.resize((256, 256)).save(buffer, format="PNG")
    with httpx.Client(base_url=server, timeout=30) as http:
        token = http.get("/make").text.split('name="_csrf_token" value="')[1].split('"')[0]
        made = http.post(
            "/make",
            data={"_csrf_token": token, "idea": "byzantine emperor", "style": "none"},
            files=[("photos", ("me.png", buffer.getvalue(), "image/png"))],
        )
    job = made.headers["location"].rsplit("/", 1)[1]  # queued: no worker runs here
    before, held, heard = asyncio.run(_job_pages(server, stack.redis_url, job))
    assert heard == JOB_PAGES
    assert held - before <= 2, (before, held)  # was: one pub/sub connection per page
