"""Operators' commands: parameters (/set, /settings, /preset) and sweeps (/sweep).

Every command defers privately first, so Redis and database calls (bounded by `answered`)
and reading attachments never push the first response past Discord's 3 seconds. They reuse
the Portraits cog's photo checks and job specs.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot import parameters
from bot.answering import answered
from bot.commands import Finisher, new_seed
from bot.delivery import Delivery, delivery_for, final_images, follow_all, png_file
from bot.formatting import settings_text
from bot.guards import OPERATOR_PERMISSIONS, operators_only
from bot.likeness import likeness_suffix, scores
from bot.services import BotServices
from bot.sweeps import Sweep, parse_sweep
from core.errors import UserInputError
from core.sheets import contact_sheet
from core.store.presets import load_preset, preset_names, save_preset
from core.store.references import store_reference

Scope = Literal["user", "channel"]


async def private_defer(interaction: discord.Interaction) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)


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
        await private_defer(interaction)
        owner = interaction.user.id if scope == "user" else interaction.channel_id
        await answered(parameters.store(self.services.redis, scope, owner, parameter, parsed))
        await interaction.followup.send(
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
        await private_defer(interaction)
        values = await answered(parameters.for_interaction(self.services.redis, interaction))
        await interaction.followup.send(settings_text(values), ephemeral=True)

    preset = app_commands.Group(
        name="preset",
        description="Named parameter sets (shared with the workbench).",
        guild_only=True,
        default_permissions=OPERATOR_PERMISSIONS,
    )

    @preset.command(name="save", description="Save your current parameters under a name.")
    @app_commands.describe(name="the preset's name")
    @operators_only()
    async def preset_save(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 80]
    ) -> None:
        await private_defer(interaction)
        values = await answered(parameters.load(self.services.redis, interaction.user.id))
        await answered(
            save_preset(
                self.services.db, f"bot:{name}", {"bot": values}, owner=str(interaction.user.id)
            )
        )
        await interaction.followup.send(f"Saved preset **{name}**.", ephemeral=True)

    @preset.command(name="load", description="Use a saved preset.")
    @app_commands.describe(name="the preset's name")
    @operators_only()
    async def preset_load(
        self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 80]
    ) -> None:
        await private_defer(interaction)
        stored = await answered(load_preset(self.services.db, f"bot:{name}"))
        values = {k: v for k, v in stored.get("bot", {}).items() if k in parameters.PARAMETERS}
        await answered(parameters.replace(self.services.redis, "user", interaction.user.id, values))
        await interaction.followup.send(f"Loaded preset **{name}**.", ephemeral=True)

    @preset.command(name="list", description="List saved presets.")
    @operators_only()
    async def preset_list(self, interaction: discord.Interaction) -> None:
        await private_defer(interaction)
        names = [
            n.removeprefix("bot:")
            for n in await answered(preset_names(self.services.db))
            if n.startswith("bot:")
        ]
        await interaction.followup.send(", ".join(names) or "No presets yet.", ephemeral=True)

    # /sweep ---------------------------------------------------------------------------
    @app_commands.command(description="Run every combination of parameter values (YAML).")
    @app_commands.describe(
        face="a clear photo of one face",
        config="the sweep as YAML text (the first parameter runs across the columns)",
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
        await private_defer(interaction)
        text = config if config is not None else (await file.read()).decode("utf-8", "replace")
        plan = parse_sweep(text)
        data = await self.portraits.checked_photo(face)
        combos = plan.combinations
        if not await confirm(
            interaction, f"This sweep paints **{len(combos)} portraits** of *{plan.idea}*. Start?"
        ):
            await interaction.followup.send("Sweep cancelled.", ephemeral=True)
            return
        key = await answered(
            store_reference(self.services.db, self.services.media, data, face.filename)
        )
        base = await answered(parameters.for_interaction(self.services.redis, interaction))
        seed = new_seed()
        jobs = []
        for combo in combos:
            values = base | combo  # a style axis is one of the values, like any other
            spec = self.portraits.spec([key], plan.idea, values["style"], seed, values)
            jobs.append(await answered(self.services.queue.submit_portrait(spec)))
        message = await interaction.channel.send(f"Sweep: 0/{len(jobs)} finished")
        delivery = delivery_for(
            interaction,
            message,
            jobs[0],
            "Sweep",
            "sweep",
            idea=plan.idea,
            axes=plan.axes,
            jobs=jobs,
        )
        await self.portraits.launch(delivery, message)

    @property
    def finishers(self) -> dict[str, Finisher]:
        return {"sweep": self.deliver_grid}

    async def deliver_grid(self, delivery: Delivery, message) -> None:
        """The grid, once every job of the sweep is over; the jobs are in cell order."""
        jobs = delivery.layout["jobs"]
        plan = Sweep(delivery.layout["idea"], [tuple(axis) for axis in delivery.layout["axes"]])
        await follow_all(self.services, jobs, message, delivery.label, self.portraits.pacer)
        images = await final_images(self.services, jobs)
        found = await answered(scores(self.services, jobs))
        sheet = sweep_sheet(images, plan, [found[j] for j in jobs])
        await message.channel.send(content="Sweep finished.", file=png_file(sheet, "sweep.png"))


def sweep_sheet(images, plan: Sweep, likeness: list[float | None] | None = None):
    """The first axis across the columns, the rest down the rows, each cell under its label
    (and its likeness score, once known)."""
    scores_ = likeness or [None] * len(plan.labels)
    labels = [
        label + likeness_suffix(score) for label, score in zip(plan.labels, scores_, strict=True)
    ]
    return contact_sheet(images, labels, plan.columns)


class Confirm(discord.ui.View):
    """Yes or no, from the person who asked, within two minutes."""

    def __init__(self, user_id: int) -> None:
        super().__init__(timeout=120)
        self.user_id, self.decided = user_id, asyncio.get_running_loop().create_future()

    async def answer(self) -> bool:
        try:
            return await asyncio.wait_for(asyncio.shield(self.decided), timeout=self.timeout)
        except TimeoutError:
            return False

    async def decide(self, interaction: discord.Interaction, yes: bool) -> None:
        if interaction.user.id != self.user_id:
            await interaction.response.send_message("Not yours to decide.", ephemeral=True)
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


async def confirm(interaction: discord.Interaction, question: str) -> bool:
    """Ask the command's user to confirm a cost (after deferring), and wait for the answer."""
    view = Confirm(interaction.user.id)
    await interaction.followup.send(question, view=view, ephemeral=True)
    return await view.answer()
