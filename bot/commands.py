"""Making portraits from Discord: /portrait, /idea, the buttons under a result and the 💾
reaction. Each command defers at once (privately, so later errors stay private), then reads
and checks its input, calls core, and formats with plain functions. Progress and results go
to the bot's own channel messages, which outlive the 15-minute interaction window.
(Operators' commands live in `operators.py` and `batches.py`.)"""

from __future__ import annotations

import asyncio
import io
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image, UnidentifiedImageError
from pydantic import ValidationError

from bot import parameters
from bot.answering import answered
from bot.buttons import button_rights, portrait_row, result_view
from bot.delivery import (
    Delivery,
    EditPacer,
    delivery_for,
    follow,
    forget,
    remember,
    result_file,
    unfinished,
)
from bot.formatting import idea_text, portrait_parameters
from bot.guards import cooldown, is_operator, operator_role_id
from bot.likeness import result_caption
from bot.services import BotServices
from core.errors import CapacityError, UserInputError
from core.jobs.spec import PortraitSpec, new_job_id
from core.photos import FORMATS, MAX_BYTES, load_photo
from core.prompt.hygiene import clean_idea
from core.prompt.styles import STYLES
from core.store.models import Job, Portrait
from core.store.references import store_reference
from core.store.wall import bump_wall

Style = Literal[tuple(STYLES)]  # type: ignore[valid-type]  (choices Discord shows)
log = logging.getLogger("narcis.bot")
DETECT_SIDE = 1600  # photos are checked for a face at most this large (detection is O(pixels))
KEEP_SIDE = 2048  # and kept at most this large: plenty for a face crop or a restyled base


Finisher = Callable[[Delivery, discord.Message], Awaitable[None]]


def new_seed() -> int:
    return uuid.uuid4().int % 2**31


class Portraits(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot, self.services = bot, services
        self.deliveries: set[asyncio.Task] = set()  # kept so tests (and shutdown) can await
        self.in_flight: defaultdict[int, set[str]] = defaultdict(set)  # user → job ids
        self.active: set[str] = set()  # deliveries this run follows (by Delivery.job_id)
        self.pacer = EditPacer()
        self.resumed = False

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
        refuse_unfit(face)  # no I/O: a PDF is refused at once, not after the defer
        await interaction.response.defer(ephemeral=True, thinking=True)
        self.check_room(interaction.user.id, count)
        # The photo check takes seconds; a hung Redis is noticed meanwhile, not after it.
        data, values = await asyncio.gather(
            self.checked_photo(face),
            answered(parameters.for_interaction(self.services.redis, interaction)),
        )
        key = await answered(
            store_reference(self.services.db, self.services.media, data, face.filename)
        )
        first = seed if seed is not None else new_seed()
        specs = [
            self.spec([key], idea, style or values["style"], first + i, values)
            for i in range(count)
        ]
        jobs = [await answered(self.services.queue.submit_portrait(s)) for s in specs]
        await interaction.followup.send(
            f"Painting **{idea}** ({count}×); progress below.", ephemeral=True
        )
        for i, job_id in enumerate(jobs, 1):
            await self.start_delivery(interaction, job_id, f"{idea} #{i}")

    def check_room(self, user_id: int, count: int) -> None:
        """A user may have `discord_queue_cap` portraits in flight at once."""
        cap = self.services.settings.discord_queue_cap
        waiting = len(self.in_flight[user_id])
        if waiting + count > cap:
            raise CapacityError(
                f"you have {waiting} portraits on the way (at most {cap} at once); "
                "wait for some to finish"
            )

    async def checked_photo(self, face: discord.Attachment) -> bytes:
        """The photo as PNG bytes, at most `KEEP_SIDE` pixels a side, if it is an image with a
        face. Call it after deferring: reading and checking a phone photo takes seconds."""
        refuse_unfit(face)
        data = await face.read()
        refuse_unreadable(data, face.filename)  # before the face analyser loads (seconds)

        def checked() -> bytes | None:
            analyzer = self.services.face_analyzer  # loads dlib on first use: keep it off the loop
            image = load_photo(data, face.filename)
            image.thumbnail((KEEP_SIDE, KEEP_SIDE))
            probe = image.copy()
            probe.thumbnail((DETECT_SIDE, DETECT_SIDE))  # a face needs no 12 megapixels
            if not any(f.score >= analyzer.min_score for f in analyzer.detect(probe)):
                return None
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=1)
            return buffer.getvalue()

        photo = await asyncio.to_thread(checked)
        if photo is None:
            raise UserInputError(f"no face found in {face.filename}; use a clear photo of a face")
        return photo

    def spec(
        self,
        keys: list[str],
        idea: str,
        style: str,
        seed: int,
        values: dict,
        extra: dict | None = None,
    ) -> PortraitSpec:
        overrides = parameters.overrides(values)
        for section, changes in (extra or {}).items():
            overrides[section] |= changes
        return PortraitSpec(
            references=keys,
            idea=idea,
            style=style,
            seed=seed,
            origin="bot",
            base=keys[0] if values["restyle"] else None,
            overrides=overrides,
        )

    # deliveries -----------------------------------------------------------------------
    @property
    def finishers(self) -> dict[str, Finisher]:
        """What ends each kind of delivery this cog starts (see `deliver`)."""
        return {"portrait": self.finish_portrait}

    async def start_delivery(
        self, interaction: discord.Interaction, job_id: str, label: str
    ) -> None:
        message = await interaction.channel.send(f"⏳ {label} · queued")
        self.in_flight[interaction.user.id].add(job_id)
        await self.launch(delivery_for(interaction, message, job_id, label), message)

    async def launch(self, delivery: Delivery, message: discord.Message) -> None:
        """Remember a delivery (so a restarted bot finishes it), then follow it."""
        await remember(self.services, delivery)
        self.follow_up(delivery, message)

    def follow_up(self, delivery: Delivery, message: discord.Message) -> None:
        self.active.add(delivery.job_id)  # at once, so a second `resume` leaves it alone
        self.spawn(self.deliver(delivery, message))

    async def deliver(self, delivery: Delivery, message: discord.Message) -> None:
        """Follow a delivery of any kind to its end with its cog's finisher, then forget it."""
        self.active.add(delivery.job_id)
        try:
            await self.all_finishers()[delivery.kind](delivery, message)
            await forget(self.services, delivery.job_id)
        finally:
            self.active.discard(delivery.job_id)

    def all_finishers(self) -> dict[str, Finisher]:
        """Every cog that starts deliveries says how each of its kinds ends."""
        found: dict[str, Finisher] = {}
        for cog in self.bot.cogs.values():
            found |= getattr(cog, "finishers", {})
        return found

    async def finish_portrait(self, delivery: Delivery, message: discord.Message) -> None:
        self.in_flight[delivery.owner].add(delivery.job_id)
        try:
            outcome = await follow(
                self.services, delivery.job_id, message, delivery.label, self.pacer
            )
            if outcome == "done":
                await self.post_result(delivery, message)
        finally:
            self.in_flight[delivery.owner].discard(delivery.job_id)

    async def post_result(self, delivery: Delivery, message: discord.Message) -> None:
        label = delivery.label
        file = await answered(result_file(self.services, delivery.job_id))
        if file is None:
            await self.pacer.edit(message, f"{label} · ⚠️ done, but its picture is gone", final=True)
            return
        content = await answered(result_caption(self.services, delivery.job_id, label))
        try:
            posted = await message.channel.send(
                content=content,
                file=file,
                view=result_view(delivery.job_id, delivery.owner),
            )
        except discord.HTTPException as exc:
            log.warning("could not post %s: %s", delivery.job_id, exc)
            await self.pacer.edit(
                message,
                f"{label} · ⚠️ painted, but Discord refused the post ({exc.status} {exc.text}); "
                "the bot may lack permission to attach files here",
                final=True,
            )
            return
        await answered(
            self.services.redis.set(
                f"narcis:bot:message:{posted.id}", delivery.job_id, ex=90 * 24 * 3600
            )
        )

    async def resume(self) -> int:
        """Pick up the deliveries (portraits, sweeps, batches) a previous run of the bot left
        unfinished."""
        count, kinds = 0, self.all_finishers()
        for delivery in await unfinished(self.services):
            if delivery.job_id in self.active:
                continue
            if delivery.kind not in kinds:  # written by a newer bot: leave it to that one
                log.warning("cannot resume a %r delivery (%s)", delivery.kind, delivery.job_id)
                continue
            try:
                channel = self.bot.get_channel(delivery.channel_id) or await self.bot.fetch_channel(
                    delivery.channel_id
                )
            except discord.HTTPException:
                await forget(self.services, delivery.job_id)  # the channel is gone
                continue
            self.follow_up(delivery, channel.get_partial_message(delivery.message_id))
            count += 1
        return count

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        if not self.resumed:  # on_ready fires again after reconnects
            self.resumed = True
            log.info("resumed %d deliveries", await self.resume())

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
        await interaction.response.defer(ephemeral=True, thinking=True)
        await answered(self.services.redis.ping())  # a hung queue answers now, not in 2 minutes
        result = await self.services.queue.write_prompt(idea, style or "none")
        if "error" in result:
            raise UserInputError(result["error"])
        await interaction.followup.send(idea_text(result), ephemeral=True)

    # buttons and 💾 ------------------------------------------------------------------------
    async def on_result_button(
        self, interaction: discord.Interaction, action: str, portrait_id: str, owner: int | None
    ) -> None:
        """Rights and cooldowns first (no I/O), then defer, then the work."""
        try:
            button_rights(interaction, action, owner)
            await interaction.response.defer(ephemeral=True, thinking=True)
            text = await self.button_action(interaction, action, portrait_id)
            await interaction.followup.send(text, ephemeral=True)
        except Exception as error:
            await self.bot.on_command_error(interaction, error)

    async def button_action(
        self, interaction: discord.Interaction, action: str, portrait_id: str
    ) -> str:
        portrait = await answered(portrait_row(self.services, portrait_id))
        if portrait is None or portrait.hidden:
            return "That portrait is gone."
        if action == "params":
            operator = is_operator(interaction.user, operator_role_id(interaction))
            return portrait_parameters(portrait, full=operator)
        if action == "curate":
            return await self.curate(portrait)
        if action == "delete":
            await self.forget(portrait)
            await interaction.message.delete()
            return "Deleted."
        if action in ("reroll", "vary"):
            return await self.again(interaction, portrait, new_scene=action == "reroll")
        return "That button is no longer supported."

    async def curate(self, portrait: Portrait) -> str:
        async def mark() -> None:
            async with self.services.db.session() as session:
                (await session.get(Portrait, portrait.id)).curated = True
            await bump_wall(self.services.redis)

        await answered(mark())
        return "On the wall now."

    async def forget(self, portrait: Portrait) -> None:
        async def hide() -> None:
            async with self.services.db.session() as session:
                (await session.get(Portrait, portrait.id)).hidden = True
            await self.services.media.delete(f"portraits/{portrait.id}")

        await answered(hide())

    async def again(
        self, interaction: discord.Interaction, portrait: Portrait, new_scene: bool
    ) -> str:
        """Reroll: a new scene (new seed). Variations: the same scene, a new identity pass.
        Both keep the original's parameters, whoever clicks."""
        self.check_room(interaction.user.id, 1)
        original = await answered(self.original_spec(portrait.id))
        job_id = await answered(self.services.queue.submit_portrait(rerun(original, new_scene)))
        label = f"{portrait.idea or 'portrait'} ({'reroll' if new_scene else 'variation'})"
        await self.start_delivery(interaction, job_id, label)
        return "On it."

    async def original_spec(self, portrait_id: uuid.UUID) -> PortraitSpec:
        async with self.services.db.session() as session:
            job = await session.get(Job, portrait_id)
        if job is None:
            raise UserInputError(
                "the record of how this portrait was made is gone (its job was cleared), "
                "so it cannot be rerolled or varied; start a new one with /portrait"
            )
        try:
            return PortraitSpec.model_validate(job.spec)
        except ValidationError:
            raise UserInputError(
                "this portrait was made by an older version whose recipe this one cannot "
                "read, so it cannot be rerolled or varied; start a new one with /portrait"
            ) from None

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        if str(payload.emoji) != "💾":
            return
        job_id = await answered(self.services.redis.get(f"narcis:bot:message:{payload.message_id}"))
        if job_id is None:
            return
        async with self.services.db.session() as session:
            portrait = await session.get(Portrait, uuid.UUID(job_id.decode()))
            if portrait is not None:
                portrait.saved = True
                portrait.saved_from_message = str(payload.message_id)


IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".avif", ".heic", ".heif", ".mpo"})


def refuse_unfit(face: discord.Attachment) -> None:
    """Refuse, without reading it, an attachment that is too large or plainly not a photo
    (by Discord's content type, else by its name)."""
    if face.size > MAX_BYTES:
        raise UserInputError(f"{face.filename} is over 10 MB")
    if face.content_type:
        if not face.content_type.startswith("image/"):
            raise UserInputError(f"{face.filename} is not an image ({face.content_type})")
    elif Path(face.filename).suffix.lower() not in IMAGE_SUFFIXES:
        raise UserInputError(f"{face.filename} is not a photo (JPEG, PNG or WebP)")


def refuse_unreadable(data: bytes, filename: str) -> None:
    """Refuse bytes that are no image we read, from their header alone (milliseconds)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise UserInputError(
            f"{filename} is not an image we can read (JPEG, PNG or WebP)"
        ) from None
    if kind not in FORMATS:
        raise UserInputError(f"{filename} is a {kind} file; use JPEG, PNG or WebP")


def rerun(original: PortraitSpec, new_scene: bool) -> PortraitSpec:
    """The original's spec under a new job id, with a new scene seed (reroll) or the same
    scene and a new identity seed (variation)."""
    data = original.model_dump(mode="json")
    data["job_id"] = new_job_id()
    seed = new_seed()
    section, field = ("composition", "seed") if new_scene else ("identity", "seed")
    if new_scene:
        data["seed"] = seed
    if data["params"] is not None:
        data["params"][section][field] = seed
    else:
        data["overrides"] = data["overrides"] or {}
        data["overrides"].setdefault(section, {})[field] = seed
    return PortraitSpec.model_validate(data)
