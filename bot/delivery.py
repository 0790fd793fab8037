"""Following jobs to the end: progress by editing the bot's own message (which, unlike an
interaction reply, never expires), then the result posted with its buttons.

Every delivery in flight — a portrait, a sweep's grid, a batch's sheets — is written to Redis
before it starts and removed once it is over, so a restarted bot picks them up again: a job's
events are logged, so following a job that finished while the bot was away replays to its end
at once.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import discord
from PIL import Image

from bot.answering import answered
from bot.formatting import progress_line
from bot.services import BotServices
from core.store.media import MediaNotFound
from core.store.models import Portrait

EDIT_EVERY_S = 2.0  # per channel: Discord rate-limits edits; progress does not need every step
DELIVERIES = "narcis:bot:deliveries"  # hash: job id → Delivery as JSON


@dataclass(frozen=True)
class Delivery:
    """Where a job's progress and result go, and who asked for it.

    `kind` names what is posted at the end ("portrait", "sweep", "batch": see the cogs'
    `finishers`); `layout` is what that needs besides the ids, as JSON (a sweep's jobs in
    cell order and its axes, a batch's cells), so a restarted bot can rebuild the post.
    """

    job_id: str  # the key: the job, or the first of a sweep's or a batch's jobs
    channel_id: int
    message_id: int
    label: str
    owner: int
    kind: str = "portrait"
    layout: dict = field(default_factory=dict)


def delivery_for(
    interaction: discord.Interaction,
    message: discord.Message,
    job_id: str,
    label: str,
    kind: str = "portrait",
    **layout,
) -> Delivery:
    """The delivery of what `interaction` asked for, reported on `message`."""
    return Delivery(
        job_id, message.channel.id, message.id, label, interaction.user.id, kind, layout
    )


async def remember(services: BotServices, delivery: Delivery) -> None:
    await answered(services.redis.hset(DELIVERIES, delivery.job_id, json.dumps(asdict(delivery))))


async def forget(services: BotServices, job_id: str) -> None:
    await answered(services.redis.hdel(DELIVERIES, job_id))


async def unfinished(services: BotServices) -> list[Delivery]:
    stored = await answered(services.redis.hgetall(DELIVERIES))
    return [Delivery(**json.loads(raw)) for raw in stored.values()]


class EditPacer:
    """At most one edit per `every` seconds in each channel, however many jobs report there.

    A progress edit that would come too soon is dropped (a later one says more); a final
    edit waits for its turn, so every job's last word is shown.
    """

    def __init__(self, every: float = EDIT_EVERY_S) -> None:
        self.every = every
        self._next: dict[int, float] = {}
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def edit(
        self, message: discord.Message, content: str, *, final: bool = False, **extra
    ) -> bool:
        channel = message.channel.id
        async with self._locks[channel]:
            wait = self._next.get(channel, 0.0) - time.monotonic()
            if wait > 0:
                if not final:
                    return False
                await asyncio.sleep(wait)
            try:
                await message.edit(content=content, **extra)
            finally:
                self._next[channel] = time.monotonic() + self.every
        return True


async def follow(
    services: BotServices, job_id: str, message: discord.Message, label: str, pacer: EditPacer
) -> str:
    """Edit `message` with the job's progress and its latest live preview (as an attachment);
    returns the final event type."""
    final, line, preview = "failed", label, None
    async for event in services.queue.events(job_id, timeout=3600):
        terminal = event.type in ("done", "failed", "cancelled")
        if event.type == "preview":
            preview = event.preview  # shown with the next edit the pacing allows
        else:
            line = progress_line(event, label)
        extra = preview_attachments(preview, terminal)
        if await pacer.edit(message, line, final=terminal, **extra):
            preview = None
        if terminal:
            final = event.type
    return final


def preview_attachments(preview: str | None, terminal: bool) -> dict:
    """A new preview replaces the old one; the finished job drops it (the result follows)."""
    if terminal:
        return {"attachments": []}
    if preview is None:
        return {}
    return {"attachments": [discord.File(io.BytesIO(base64.b64decode(preview)), "preview.webp")]}


async def follow_all(
    services: BotServices,
    job_ids: list[str],
    message: discord.Message,
    label: str,
    pacer: EditPacer,
) -> dict[str, str]:
    """Several jobs at once, one progress line: how many are done."""
    outcomes: dict[str, str] = {}

    async def one(job_id: str) -> None:
        async for event in services.queue.events(job_id, timeout=3600):
            if event.type in ("done", "failed", "cancelled"):
                outcomes[job_id] = event.type
                text = f"{label}: {len(outcomes)}/{len(job_ids)} finished"
                await pacer.edit(message, text, final=len(outcomes) == len(job_ids))

    await asyncio.gather(*(one(j) for j in job_ids))
    return outcomes


async def result_file(services: BotServices, job_id: str) -> discord.File | None:
    async with services.db.session() as session:
        portrait = await session.get(Portrait, uuid.UUID(job_id))
    if portrait is None or "final" not in portrait.media:
        return None
    try:
        data = await services.media.get(portrait.media["final"])
    except MediaNotFound:
        return None
    name = (portrait.idea or "portrait").replace(" ", "-") + "-narcis.png"
    return discord.File(io.BytesIO(data), filename=name)


async def final_images(services: BotServices, job_ids: list[str]) -> list[Image.Image | None]:
    images = []
    for job_id in job_ids:
        file = await answered(result_file(services, job_id))
        images.append(None if file is None else Image.open(file.fp).convert("RGB"))
    return images


def png_file(image: Image.Image, name: str) -> discord.File:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    buffer.seek(0)
    return discord.File(buffer, filename=name)
