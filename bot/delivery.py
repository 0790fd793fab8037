"""Following jobs to the end: progress by editing the bot's own message (which, unlike an
interaction reply, never expires), then the result posted with its buttons."""

from __future__ import annotations

import asyncio
import base64
import io
import time
import uuid

import discord
from PIL import Image

from bot.formatting import progress_line
from bot.services import BotServices
from core.store.media import MediaNotFound
from core.store.models import Portrait

EDIT_EVERY_S = 1.5  # Discord rate-limits edits; progress does not need every step


async def follow(
    services: BotServices, job_id: str, message: discord.Message, label: str = ""
) -> str:
    """Edit `message` with the job's progress and its latest live preview (as an attachment);
    returns the final event type."""
    last_edit, final, line, preview = 0.0, "failed", label, None
    async for event in services.queue.events(job_id, timeout=3600):
        now = time.monotonic()
        terminal = event.type in ("done", "failed", "cancelled")
        if event.type == "preview":
            preview = event.preview  # shown with the next edit the rate limit allows
        else:
            line = progress_line(event, label)
        if terminal or now - last_edit >= EDIT_EVERY_S:
            await message.edit(content=line, **preview_attachments(preview, terminal))
            preview, last_edit = None, now
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
        file = await result_file(services, job_id)
        images.append(None if file is None else Image.open(file.fp).convert("RGB"))
    return images


async def follow_all(
    services: BotServices, job_ids: list[str], message: discord.Message, label: str
) -> dict[str, str]:
    """Several jobs at once, one progress line: how many are done."""
    outcomes: dict[str, str] = {}

    async def one(job_id: str) -> None:
        async for event in services.queue.events(job_id, timeout=3600):
            if event.type in ("done", "failed", "cancelled"):
                outcomes[job_id] = event.type
                await message.edit(content=f"{label}: {len(outcomes)}/{len(job_ids)} finished")

    await asyncio.gather(*(one(j) for j in job_ids))
    return outcomes
