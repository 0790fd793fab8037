"""Deliveries: paced edits per channel, a refused post said so, and a restart mid-job that
still delivers a portrait, a sweep's grid and a batch's sheets (the jobs' events are replayed
from Redis)."""

import asyncio
import io
import itertools
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from bot.batches import Cell, ranked_sheet
from bot.delivery import Delivery, EditPacer, final_images, follow, remember, unfinished
from bot.likeness import scores
from bot.operators import sweep_sheet
from bot.sweeps import parse_sweep
from core.jobs.events import JobEvent, publish
from core.store.models import Job
from tests.bot.conftest import OPERATOR, confirmed, invoke, make_bot
from tests.bot.fakes import FakeChannel, FakeInteraction, png_attachment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_progress_edits_are_at_most_one_per_two_seconds_per_channel(bot) -> None:
    """Four jobs reporting 10 steps each into one channel (as /portrait count=4 does)."""

    async def go():
        channel, pacer = FakeChannel(), EditPacer()
        messages = [await channel.send(f"job {i}") for i in range(4)]
        jobs = [f"0000000{i}-0000-0000-0000-000000000000" for i in range(4)]
        followers = [
            asyncio.create_task(follow(bot.services, j, m, f"#{i}", pacer))
            for i, (j, m) in enumerate(zip(jobs, messages, strict=True))
        ]
        await asyncio.sleep(0.2)
        for step in range(1, 11):
            for job in jobs:
                await publish(
                    bot.services.redis,
                    JobEvent(job_id=job, type="step", stage="identity", step=step, total=10),
                )
            await asyncio.sleep(0.1)
        for job in jobs:
            await publish(bot.services.redis, JobEvent(job_id=job, type="done"))
        outcomes = await asyncio.wait_for(asyncio.gather(*followers), timeout=30)
        return channel, messages, outcomes

    channel, messages, outcomes = asyncio.run(go())
    times = channel.edits()
    assert outcomes == ["done"] * 4
    assert all(b - a >= 1.99 for a, b in itertools.pairwise(times)), times
    assert all(m.edits[-1].endswith("✅ done") for m in messages)  # every last word shown


def test_a_refused_post_is_reported_on_the_progress_message(bot, stack) -> None:
    from tests.site.seed import seed_portraits

    async def go():
        (pid,) = await seed_portraits(bot.services.db, stack.media, 1, curated=False)
        channel = FakeChannel(refuse_files=True)
        message = await channel.send("⏳ queued")
        await publish(bot.services.redis, JobEvent(job_id=pid, type="done"))
        delivery = Delivery(pid, channel.id, message.id, "pirate #1", OPERATOR.id)
        await remember(bot.services, delivery)
        await bot.get_cog("Portraits").deliver(delivery, message)
        return message, await unfinished(bot.services)

    message, left = asyncio.run(go())
    assert "painted, but Discord refused the post (403 Missing Permissions)" in message.edits[-1]
    assert left == []


async def quick(client) -> None:
    """Tiny, fast jobs: the photo as the base, two steps."""
    for parameter, value in (("restyle", "on"), ("production_mode", "off"), ("steps", "2")):
        await invoke(client, "set", parameter=parameter, value=value, scope="user")


async def stopped(client) -> None:
    """The bot dies: it follows nothing more, and lets go of Redis and the database."""
    for task in client.get_cog("Portraits").deliveries:
        task.cancel()
    await client.services.close()


async def restarted(second, channel: FakeChannel, finish) -> tuple[int, int, list, object]:
    """A new bot against the same Redis: what it resumes (twice, as after a reconnect), what
    is left unfinished once it is done, and whatever `finish(bot)` reads before it stops."""
    second.get_channel = lambda channel_id: channel if channel_id == channel.id else None
    cog = second.get_cog("Portraits")
    resumed, again = await cog.resume(), await cog.resume()
    await asyncio.wait_for(asyncio.gather(*cog.deliveries), timeout=240)
    left = await unfinished(second.services)
    extra = await finish(second)
    await second.services.close()
    return resumed, again, left, extra


def test_a_restart_mid_job_still_delivers_the_result(stack, astronaut) -> None:
    stack.start_worker()
    channel = FakeChannel()
    first = make_bot(stack, stack.redis_url)

    async def before_restart():
        await quick(first)
        interaction = FakeInteraction(first, OPERATOR, "portrait", channel)
        await invoke(
            first,
            "portrait",
            interaction=interaction,
            face=png_attachment(astronaut),
            idea="pirate queen",
            style=None,
            seed=3,
            count=1,
        )
        await stopped(first)  # before the job is done
        return interaction

    async def nothing(_):
        return None

    interaction = asyncio.run(before_restart())
    assert interaction.replies[-1].content.startswith("Painting **pirate queen**")
    resumed, again, left, _ = asyncio.run(
        restarted(make_bot(stack, stack.redis_url), channel, nothing)
    )
    progress, result = channel.messages[0], channel.messages[-1]
    assert len(channel.messages) == 2, progress.edits
    assert (resumed, again, left) == (1, 0, [])
    assert progress.edits[-1].endswith("✅ done")
    assert result.file.filename == "pirate-queen-narcis.png"
    owner_ids = {item.custom_id.rsplit(":", 1)[1] for item in result.view.children}
    assert owner_ids == {str(OPERATOR.id)}


TWO_BY_TWO = "idea: pirate queen\nparameters:\n  identity_guidance: [4, 8]\n  steps: [2, 3]"


def test_a_restart_mid_sweep_and_batch_still_posts_the_grid_and_the_sheets(
    stack, astronaut
) -> None:
    """A 2×2 sweep and a batch of 2 faces × 1 idea × 2, submitted by a bot that dies at once;
    a new bot posts the grid and each face's sheet once, the cells where their labels say
    (pixel for pixel what the sheets of the jobs, in the order they were submitted, are)."""
    stack.start_worker()
    channel = FakeChannel()
    first = make_bot(stack, stack.redis_url)

    async def before_restart():
        await quick(first)
        for name, photo in (("astro", astronaut), ("astro2", astronaut.rotate(3))):
            await invoke(
                first,
                "faces save",
                name=name,
                photo=png_attachment(photo),
                **dict.fromkeys(("photo2", "photo3", "photo4")),
            )
        await confirmed(
            first,
            "sweep",
            channel=channel,
            face=png_attachment(astronaut),
            config=TWO_BY_TWO,
            file=None,
        )
        await confirmed(
            first, "batch", channel=channel, faces="astro, astro2", ideas="sailor", per_input=2
        )
        await stopped(first)

    async def expected_sheets(second) -> dict[str, bytes]:
        async with second.services.db.session() as session:
            jobs = sorted(
                (await session.scalars(select(Job))).all(), key=lambda j: uuid.UUID(str(j.id))
            )
        sweep = [str(j.id) for j in jobs if j.spec["idea"] == "pirate queen"]
        batch = [str(j.id) for j in jobs if j.spec["idea"] == "sailor"]
        for job_id in sweep + batch:  # over, whether or not the bot followed them
            async for _ in second.services.queue.events(job_id, timeout=240):
                pass
        found = await scores(second.services, sweep + batch)
        images = dict(
            zip(sweep + batch, await final_images(second.services, sweep + batch), strict=True)
        )
        grid = sweep_sheet(
            [images[j] for j in sweep], parse_sweep(TWO_BY_TWO), [found[j] for j in sweep]
        )
        sheets = {"sweep.png": grid}
        for face, mine in (("astro", batch[:2]), ("astro2", batch[2:])):
            cells = [Cell(face, "sailor", n, job) for n, job in enumerate(mine, 1)]
            sheets[f"{face}.png"] = ranked_sheet(cells, images, found)
        distinct = len({images[j].tobytes() for j in sweep})
        return {name: sheet.tobytes() for name, sheet in sheets.items()}, distinct

    asyncio.run(before_restart())
    assert [m.content for m in channel.messages] == ["Sweep: 0/4 finished", "Batch: 0/4 finished"]
    resumed, again, left, (expected, distinct) = asyncio.run(
        restarted(make_bot(stack, stack.redis_url), channel, expected_sheets)
    )
    assert (resumed, again, left) == (2, 0, [])
    posted = [m for m in channel.messages if m.file is not None]
    assert sorted(m.file.filename for m in posted) == ["astro.png", "astro2.png", "sweep.png"]
    for message in posted:
        shown = Image.open(io.BytesIO(message.file_bytes())).convert("RGB")
        assert shown.tobytes() == expected[message.file.filename], message.file.filename
    assert distinct == 4  # every cell its own picture, so a swapped cell would show
    assert channel.messages[0].edits[-1] == "Sweep: 4/4 finished"
    assert channel.messages[-1].content.startswith("Batch finished: 4 done, 0 failed")
