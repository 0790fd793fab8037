"""Deliveries: paced edits per channel, a refused post said so, and a restart mid-job that
still delivers (the job's events are replayed from Redis)."""

import asyncio
import itertools

import pytest

from bot.delivery import Delivery, EditPacer, follow, remember, unfinished
from core.jobs.events import JobEvent, publish
from tests.bot.conftest import OPERATOR, invoke, make_bot
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


def test_a_restart_mid_job_still_delivers_the_result(stack, astronaut) -> None:
    stack.start_worker()
    channel = FakeChannel()
    first = make_bot(stack, stack.redis_url)

    async def before_restart():
        for parameter, value in (("restyle", "on"), ("production_mode", "off"), ("steps", "2")):
            await invoke(first, "set", parameter=parameter, value=value, scope="user")
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
        for task in first.get_cog("Portraits").deliveries:
            task.cancel()  # the bot dies before the job is done
        await first.services.close()
        return interaction

    async def after_restart(second):
        second.get_channel = lambda channel_id: channel if channel_id == channel.id else None
        cog = second.get_cog("Portraits")
        resumed = await cog.resume()
        await asyncio.wait_for(asyncio.gather(*cog.deliveries), timeout=240)
        left = await unfinished(second.services)
        await second.services.close()
        return resumed, left

    interaction = asyncio.run(before_restart())
    assert interaction.replies[-1].content.startswith("Painting **pirate queen**")
    resumed, left = asyncio.run(after_restart(make_bot(stack, stack.redis_url)))
    progress, result = channel.messages[0], channel.messages[-1]
    assert len(channel.messages) == 2, progress.edits
    assert resumed == 1 and left == []
    assert progress.edits[-1].endswith("✅ done")
    assert result.file.filename == "pirate-queen-narcis.png"
    owner_ids = {item.custom_id.rsplit(":", 1)[1] for item in result.view.children}
    assert owner_ids == {str(OPERATOR.id)}
