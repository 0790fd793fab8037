"""Making portraits from Discord: /portrait, /idea, the buttons under a result and the 💾
reaction. Each command checks its input, defers, calls core, and formats with plain
functions. Progress and results go to the bot's own channel messages, which outlive the
15-minute interaction window. (Operators' commands live in `operators.py`.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import parameters
from bot.buttons import may_curate, portrait_row, result_view, show_parameters
from bot.delivery import follow, result_file
from bot.formatting import idea_text
from bot.guards import cooldown
from bot.likeness import likeness_suffix, scores
from bot.services import BotServices
from core.errors import UserInputError
from core.jobs.spec import PortraitSpec
from core.photos import MAX_BYTES, load_photo
from core.prompt.hygiene import clean_idea
from core.prompt.styles import STYLES
from core.store.models import Portrait
from core.store.references import store_reference
from core.store.wall import bump_wall

Style = Literal[tuple(STYLES)]  # type: ignore[valid-type]  (choices Discord shows)


class Portraits(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot, self.services = bot, services
        self.deliveries: set[asyncio.Task] = set()  # kept so tests (and shutdown) can await

    # /portrait ------------------------------------------------------------------------
    @app_commands.command(description="Paint a portrait of the face in the photo.")
    @app_commands.describe(
        face="a clear photo of one face",
        idea="a few words, e.g. 'byzantine emperor'",
        count="how many portraits (1–4)",
    )
    @cooldown(30)
    async def portrait(
        self,
        interaction: discord.Interaction,
        face: discord.Attachment,
        idea: app_commands.Range[str, 1, 60],
        style: Style | None = None,
        seed: app_commands.Range[int, 0, 2**31 - 1] | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
    ) -> None:
        idea = clean_idea(idea)
        data = await self.checked_photo(face)
        await interaction.response.defer(thinking=True)
        key = await store_reference(self.services.db, self.services.media, data, face.filename)
        values = await parameters.for_interaction(self.services.redis, interaction)
        first = seed if seed is not None else uuid.uuid4().int % 2**31
        jobs = [
            await self.submit(key, idea, style or values["style"], first + i, values)
            for i in range(count)
        ]
        await interaction.followup.send(
            f"Painting **{idea}** ({count}×); progress below.", ephemeral=True
        )
        for i, job_id in enumerate(jobs, 1):
            message = await interaction.channel.send(f"⏳ {idea} · queued")
            self.spawn(self.deliver(job_id, message, f"{idea} #{i}"))

    async def checked_photo(self, face: discord.Attachment) -> bytes:
        if face.size > MAX_BYTES:
            raise UserInputError(f"{face.filename} is over 10 MB")
        if face.content_type and not face.content_type.startswith("image/"):
            raise UserInputError(f"{face.filename} is not an image ({face.content_type})")
        data = await face.read()
        image = load_photo(data, face.filename)
        found = await asyncio.to_thread(self.services.face_analyzer.detect, image)
        if not [f for f in found if f.score >= self.services.face_analyzer.min_score]:
            raise UserInputError(f"no face found in {face.filename}; use a clear photo of a face")
        return data

    async def submit(
        self, key: str, idea: str, style: str, seed: int, values: dict, extra: dict | None = None
    ) -> str:
        overrides = parameters.overrides(values)
        for section, changes in (extra or {}).items():
            overrides[section] |= changes
        spec = PortraitSpec(
            references=[key],
            idea=idea,
            style=style,
            seed=seed,
            origin="bot",
            base=key if values["restyle"] else None,
            overrides=overrides,
        )
        return await self.services.queue.submit_portrait(spec)

    async def deliver(self, job_id: str, message: discord.Message, label: str) -> None:
        outcome = await follow(self.services, job_id, message, label)
        if outcome != "done":
            return
        file = await result_file(self.services, job_id)
        score = (await scores(self.services, [job_id]))[job_id]
        posted = await message.channel.send(
            content=f"**{label}**{likeness_suffix(score)}", file=file, view=result_view(job_id)
        )
        await self.services.redis.set(f"narcis:bot:message:{posted.id}", job_id, ex=90 * 24 * 3600)

    def spawn(self, work) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(work)
        self.deliveries.add(task)
        task.add_done_callback(self.deliveries.discard)
        return task

    # /idea ----------------------------------------------------------------------------
    @app_commands.command(description="Show the prompt agent's concept, keywords and prompt.")
    @app_commands.describe(idea="a few words, e.g. 'vampiric beauty'", style="a style preset")
    async def idea(
        self,
        interaction: discord.Interaction,
        idea: app_commands.Range[str, 1, 60],
        style: Style | None = None,
    ) -> None:
        idea = clean_idea(idea)
        await interaction.response.defer(thinking=True)
        result = await self.services.queue.write_prompt(idea, style or "none")
        if "error" in result:
            raise UserInputError(result["error"])
        await interaction.followup.send(idea_text(result))

    # buttons and 💾 ------------------------------------------------------------------------
    async def on_result_button(
        self, interaction: discord.Interaction, action: str, portrait_id: str
    ) -> None:
        if action == "params":
            await show_parameters(interaction, self.services, portrait_id)
            return
        portrait = await portrait_row(self.services, portrait_id)
        if portrait is None:
            await interaction.response.send_message("That portrait is gone.", ephemeral=True)
            return
        if action == "curate":
            await self.curate(interaction, portrait)
        elif action == "delete":
            await self.forget(portrait)
            await interaction.message.delete()
            await interaction.response.send_message("Deleted.", ephemeral=True)
        else:
            await self.again(interaction, portrait, new_seed=action == "reroll")

    async def curate(self, interaction: discord.Interaction, portrait: Portrait) -> None:
        if not may_curate(interaction):
            await interaction.response.send_message(
                "Only operators (the operators role) can curate.", ephemeral=True
            )
            return
        async with self.services.db.session() as session:
            (await session.get(Portrait, portrait.id)).curated = True
        await bump_wall(self.services.redis)
        await interaction.response.send_message("On the wall now.", ephemeral=True)

    async def forget(self, portrait: Portrait) -> None:
        async with self.services.db.session() as session:
            row = await session.get(Portrait, portrait.id)
            row.hidden = True
        await self.services.media.delete(f"portraits/{portrait.id}")

    async def again(
        self, interaction: discord.Interaction, portrait: Portrait, new_seed: bool
    ) -> None:
        """Reroll: a new scene (new seed). Variations: the same scene, a new identity pass."""
        await interaction.response.send_message("On it.", ephemeral=True)
        values = await parameters.for_interaction(self.services.redis, interaction)
        key = await self.reference_of(portrait)
        seed = uuid.uuid4().int % 2**31 if new_seed else portrait.seed
        extra = {} if new_seed else {"identity": {"seed": uuid.uuid4().int % 2**31}}
        job_id = await self.submit(
            key, portrait.idea or "portrait", values["style"], seed, values, extra
        )
        message = await interaction.channel.send(f"⏳ {portrait.idea} · queued")
        self.spawn(self.deliver(job_id, message, portrait.idea or "portrait"))

    async def reference_of(self, portrait: Portrait) -> str:
        from core.store.models import Job

        async with self.services.db.session() as session:
            job = await session.get(Job, portrait.id)
        return job.spec["references"][0]

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != "💾":
            return
        job_id = await self.services.redis.get(f"narcis:bot:message:{payload.message_id}")
        if job_id is None:
            return
        async with self.services.db.session() as session:
            portrait = await session.get(Portrait, uuid.UUID(job_id.decode()))
            if portrait is not None:
                portrait.saved = True
                portrait.saved_from_message = str(payload.message_id)
