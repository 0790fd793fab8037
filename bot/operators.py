"""Operators' commands: parameters (/set, /settings, /preset), sweeps and batch runs.

They reuse the Portraits cog's photo checks, job submission and delivery.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import parameters
from bot.delivery import final_images, follow_all
from bot.formatting import batch_summary, settings_text
from bot.guards import operators_only
from bot.likeness import best_per_cell, likeness_suffix, scores
from bot.services import BotServices
from bot.sweeps import parse_sweep
from core.errors import UserInputError
from core.prompt.hygiene import clean_idea
from core.sheets import contact_sheet
from core.store.presets import load_preset, preset_names, save_preset
from core.store.references import store_reference

Scope = Literal["user", "channel"]


class Operators(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot, self.services = bot, services

    @property
    def portraits(self):
        return self.bot.get_cog("Portraits")

    # /set, /settings, /preset -----------------------------------------------------------
    @app_commands.command(name="set", description="Set one generation parameter.")
    @app_commands.describe(
        parameter="which parameter",
        value="its new value (on/off for switches)",
        scope="for you alone, or for this channel",
    )
    @operators_only()
    async def set_parameter(
        self, interaction: discord.Interaction, parameter: str, value: str, scope: Scope = "user"
    ) -> None:
        if parameter not in parameters.PARAMETERS:
            raise UserInputError(
                f"unknown parameter {parameter!r} (known: {', '.join(parameters.PARAMETERS)})"
            )
        parsed = parameters.PARAMETERS[parameter].parse(value)
        owner = interaction.user.id if scope == "user" else interaction.channel_id
        await parameters.store(self.services.redis, scope, owner, parameter, parsed)
        await interaction.response.send_message(
            f"`{parameter}` = **{value}** for this {scope}.", ephemeral=True
        )

    @set_parameter.autocomplete("parameter")
    async def parameter_names(self, interaction: discord.Interaction, current: str):
        return [
            app_commands.Choice(name=f"{p.name} — {p.help}"[:100], value=p.name)
            for p in parameters.PARAMETERS.values()
            if current.lower() in p.name
        ][:25]

    @app_commands.command(name="settings", description="Show your generation parameters.")
    async def show_settings(self, interaction: discord.Interaction) -> None:
        values = await parameters.for_interaction(self.services.redis, interaction)
        await interaction.response.send_message(settings_text(values), ephemeral=True)

    preset = app_commands.Group(
        name="preset", description="Named parameter sets (shared with the workbench)."
    )

    @preset.command(name="save", description="Save your current parameters under a name.")
    @app_commands.describe(name="the preset's name")
    @operators_only()
    async def preset_save(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 80]
    ) -> None:
        values = await parameters.load(self.services.redis, interaction.user.id)
        await save_preset(
            self.services.db, f"bot:{name}", {"bot": values}, owner=str(interaction.user.id)
        )
        await interaction.response.send_message(f"Saved preset **{name}**.", ephemeral=True)

    @preset.command(name="load", description="Use a saved preset.")
    @app_commands.describe(name="the preset's name")
    async def preset_load(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 80]
    ) -> None:
        stored = await load_preset(self.services.db, f"bot:{name}")
        values = {k: v for k, v in stored.get("bot", {}).items() if k in parameters.PARAMETERS}
        await parameters.replace(self.services.redis, "user", interaction.user.id, values)
        await interaction.response.send_message(f"Loaded preset **{name}**.", ephemeral=True)

    @preset.command(name="list", description="List saved presets.")
    async def preset_list(self, interaction: discord.Interaction) -> None:
        names = [
            n.removeprefix("bot:")
            for n in await preset_names(self.services.db)
            if n.startswith("bot:")
        ]
        await interaction.response.send_message(
            ", ".join(names) or "No presets yet.", ephemeral=True
        )

    # /sweep ---------------------------------------------------------------------------
    @app_commands.command(description="Run every combination of parameter values (YAML).")
    @app_commands.describe(
        face="a clear photo of one face",
        config="the sweep as YAML text",
        file="the sweep as a YAML file",
    )
    @operators_only()
    async def sweep(
        self,
        interaction: discord.Interaction,
        face: discord.Attachment,
        config: str | None = None,
        file: discord.Attachment | None = None,
    ) -> None:
        if (config is None) == (file is None):
            raise UserInputError("give the sweep as `config` text or as a YAML `file`, not both")
        text = config if config is not None else (await file.read()).decode("utf-8", "replace")
        plan = parse_sweep(text)
        data = await self.portraits.checked_photo(face)
        combos = plan.combinations
        view = Confirm(interaction.user.id)
        await interaction.response.send_message(
            f"This sweep paints **{len(combos)} portraits** of *{plan.idea}*. Start?",
            view=view,
            ephemeral=True,
        )
        if not await view.answer():
            await interaction.followup.send("Sweep cancelled.", ephemeral=True)
            return
        key = await store_reference(self.services.db, self.services.media, data, face.filename)
        base = await parameters.for_interaction(self.services.redis, interaction)
        seed = uuid.uuid4().int % 2**31
        jobs = [
            await self.portraits.submit(key, plan.idea, base["style"], seed, base | combo)
            for combo in combos
        ]
        message = await interaction.channel.send(f"Sweep: 0/{len(jobs)} finished")
        self.portraits.spawn(self.deliver_grid(jobs, combos, message))

    async def deliver_grid(self, jobs: list[str], combos: list[dict], message) -> None:
        await follow_all(self.services, jobs, message, "Sweep")
        images = await final_images(self.services, jobs)
        labels = [", ".join(f"{k}={v}" for k, v in combo.items()) for combo in combos]
        found = await scores(self.services, jobs)
        labels = [label + likeness_suffix(found[j]) for label, j in zip(labels, jobs, strict=True)]
        columns = max(1, round(len(jobs) ** 0.5))
        sheet = contact_sheet(images, labels, columns)
        buffer = io.BytesIO()
        sheet.save(buffer, format="PNG")
        buffer.seek(0)
        await message.channel.send(
            content="Sweep finished.", file=discord.File(buffer, filename="sweep.png")
        )

    # /batch ---------------------------------------------------------------------------
    @app_commands.command(description="Every face × every idea × n generations, summarised.")
    @app_commands.describe(
        face="a photo of a face",
        ideas="ideas separated by commas",
        per_input="generations per face and idea",
        face2="another face",
        face3="another face",
    )
    @operators_only()
    async def batch(
        self,
        interaction: discord.Interaction,
        face: discord.Attachment,
        ideas: str,
        per_input: app_commands.Range[int, 1, 5] = 3,
        face2: discord.Attachment | None = None,
        face3: discord.Attachment | None = None,
    ) -> None:
        idea_list = [clean_idea(i) for i in ideas.split(",") if i.strip()]
        if not idea_list:
            raise UserInputError("list at least one idea, separated by commas")
        photos = [
            await self.portraits.checked_photo(f) for f in (face, face2, face3) if f is not None
        ]
        await interaction.response.defer(thinking=True)
        values = await parameters.for_interaction(self.services.redis, interaction)
        jobs, cells = [], {}
        for number, data in enumerate(photos, 1):
            key = await store_reference(
                self.services.db, self.services.media, data, f"face {number}"
            )
            for idea in idea_list:
                for n in range(per_input):
                    jobs.append(await self.portraits.submit(key, idea, values["style"], n, values))
                    cells[jobs[-1]] = f"face {number} × {idea}"
        await interaction.followup.send(f"Batch of {len(jobs)} portraits queued.", ephemeral=True)
        message = await interaction.channel.send(f"Batch: 0/{len(jobs)} finished")
        self.portraits.spawn(self.summarise(jobs, message, cells))

    async def summarise(self, jobs: list[str], message, cells: dict[str, str]) -> None:
        started = time.monotonic()
        outcomes = await follow_all(self.services, jobs, message, "Batch")
        failures = []
        for job_id, outcome in outcomes.items():
            if outcome != "done":
                status = await self.services.queue.status(job_id)
                failures.append(status.error or outcome)
        done = sum(1 for o in outcomes.values() if o == "done")
        found = await scores(self.services, [j for j, o in outcomes.items() if o == "done"])
        best = best_per_cell([(cells[j], score) for j, score in found.items()])
        summary = batch_summary(done, len(jobs) - done, time.monotonic() - started, failures)
        await message.channel.send("\n".join([summary, "Best likeness per face × idea:", *best]))


class Confirm(discord.ui.View):
    """Yes or no, from the person who asked, within two minutes."""

    def __init__(self, user_id: int) -> None:
        super().__init__(timeout=120)
        self.user_id, self.decided = user_id, asyncio.get_event_loop().create_future()

    async def answer(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.shield(self.decided), timeout=self.timeout)
        except TimeoutError:
            return False

    async def decide(self, interaction: discord.Interaction, yes: bool) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message("Not your sweep.", ephemeral=True)
            return
        await interaction.response.defer()
        if not self.decided.done():
            self.decided.set_result(yes)
        self.stop()

    @discord.ui.button(label="Start", style=discord.ButtonStyle.primary)
    async def start(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self.decide(interaction, True)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, _: discord.ui.Button) -> None:
        await self.decide(interaction, False)
