"""Face sets and batch runs: /faces saves a named set of photos of one person (the original
system's face folders); /batch paints every face set × every idea × n, after the operator
confirms the cost, and posts one labelled contact sheet per face, best likeness first."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import discord
from discord import app_commands
from discord.ext import commands
from PIL import Image

from bot import parameters
from bot.answering import answered
from bot.commands import Finisher, new_seed
from bot.delivery import Delivery, delivery_for, final_images, follow_all, png_file
from bot.formatting import batch_summary
from bot.guards import OPERATOR_PERMISSIONS, operators_only
from bot.likeness import best_per_cell, scores
from bot.operators import confirm, private_defer
from bot.services import BotServices
from core.errors import UserInputError
from core.prompt.hygiene import clean_idea
from core.sheets import contact_sheet
from core.store.faces import clean_name, face_set_names, face_set_photos, save_face_set
from core.store.references import store_reference

MAX_BATCH = 48  # portraits per batch: 3 faces × 4 ideas × 4, about an hour on one GPU


@dataclass(frozen=True)
class Cell:
    face: str
    idea: str
    number: int  # 1-based, per face and idea
    job_id: str


class Batches(commands.Cog):
    def __init__(self, bot: commands.Bot, services: BotServices) -> None:
        self.bot, self.services = bot, services

    @property
    def portraits(self):
        return self.bot.get_cog("Portraits")

    faces = app_commands.Group(
        name="faces",
        description="Named sets of photos of one person, for /batch.",
        guild_only=True,
        default_permissions=OPERATOR_PERMISSIONS,
    )

    @faces.command(name="save", description="Save 1–4 photos of one person under a name.")
    @app_commands.describe(name="the set's name, e.g. 'alice'")
    @operators_only()
    async def faces_save(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 40],
        photo: discord.Attachment,
        photo2: discord.Attachment | None = None,
        photo3: discord.Attachment | None = None,
        photo4: discord.Attachment | None = None,
    ) -> None:
        name = clean_name(name)
        await private_defer(interaction)
        attachments = [a for a in (photo, photo2, photo3, photo4) if a is not None]
        photos = [(a.filename, await self.portraits.checked_photo(a)) for a in attachments]
        count = await answered(
            save_face_set(
                self.services.db, self.services.media, name, photos, str(interaction.user.id)
            )
        )
        await interaction.followup.send(
            f"Saved face set **{name}** ({count} photos).", ephemeral=True
        )

    @faces.command(name="list", description="List the saved face sets.")
    @operators_only()
    async def faces_list(self, interaction: discord.Interaction) -> None:
        await private_defer(interaction)
        names = await answered(face_set_names(self.services.db))
        await interaction.followup.send(", ".join(names) or "No face sets yet.", ephemeral=True)

    @app_commands.command(description="Every face set × every idea × n, on contact sheets.")
    @app_commands.describe(
        faces="saved face sets, separated by commas (see /faces)",
        ideas="ideas separated by commas",
        per_input="generations per face and idea",
    )
    @operators_only()
    async def batch(
        self,
        interaction: discord.Interaction,
        faces: str,
        ideas: str,
        per_input: app_commands.Range[int, 1, 5] = 3,
    ) -> None:
        names, idea_list = batch_inputs(faces, ideas, per_input)
        await private_defer(interaction)
        photos = {name: await answered(self.face_photos(name)) for name in names}
        total = len(names) * len(idea_list) * per_input
        question = (
            f"This batch paints **{total} portraits** ({len(names)} faces × "
            f"{len(idea_list)} ideas × {per_input}). Start?"
        )
        if not await confirm(interaction, question):
            await interaction.followup.send("Batch cancelled.", ephemeral=True)
            return
        values = await answered(parameters.for_interaction(self.services.redis, interaction))
        seed, cells = new_seed(), []
        for name, keys in photos.items():
            for idea in idea_list:
                for n in range(per_input):
                    spec = self.portraits.spec(keys, idea, values["style"], seed + n, values)
                    job_id = await answered(self.services.queue.submit_portrait(spec))
                    cells.append(Cell(name, idea, n + 1, job_id))
        message = await interaction.channel.send(f"Batch: 0/{len(cells)} finished")
        layout = {"cells": [asdict(c) for c in cells], "faces": names, "started": time.time()}
        delivery = delivery_for(interaction, message, cells[0].job_id, "Batch", "batch", **layout)
        await self.portraits.launch(delivery, message)

    @property
    def finishers(self) -> dict[str, Finisher]:
        return {"batch": self.summarise}

    async def face_photos(self, name: str) -> list[str]:
        """The set's photos as reference media keys, ready for a job."""
        stored = await face_set_photos(self.services.db, self.services.media, name)
        return [
            await store_reference(self.services.db, self.services.media, data, f"{name} {i}")
            for i, data in enumerate(stored, 1)
        ]

    async def summarise(self, delivery: Delivery, message) -> None:
        """One ranked sheet per face, then the summary, once every job is over."""
        cells = [Cell(**cell) for cell in delivery.layout["cells"]]
        jobs = [c.job_id for c in cells]
        outcomes = await follow_all(
            self.services, jobs, message, delivery.label, self.portraits.pacer
        )
        images = dict(zip(jobs, await final_images(self.services, jobs), strict=True))
        found = await answered(scores(self.services, jobs))
        for name in delivery.layout["faces"]:
            mine = [c for c in cells if c.face == name]
            sheet = ranked_sheet(mine, images, found)
            await message.channel.send(
                content=f"**{name}**: best likeness first", file=png_file(sheet, f"{name}.png")
            )
        failures = []
        for job_id, outcome in outcomes.items():
            if outcome != "done":
                status = await answered(self.services.queue.status(job_id))
                failures.append(status.reason or outcome)
        done = sum(1 for o in outcomes.values() if o == "done")
        best = best_per_cell([(f"{c.face} × {c.idea}", found[c.job_id]) for c in cells])
        took = time.time() - delivery.layout["started"]  # wall clock: it may span a restart
        summary = batch_summary(done, len(jobs) - done, took, failures)
        await message.channel.send("\n".join([summary, "Best likeness per face × idea:", *best]))


def batch_inputs(faces: str, ideas: str, per_input: int) -> tuple[list[str], list[str]]:
    """The face set names and ideas of a /batch, checked, and its size capped."""
    names = list(dict.fromkeys(clean_name(n) for n in faces.split(",") if n.strip()))
    idea_list = list(dict.fromkeys(clean_idea(i) for i in ideas.split(",") if i.strip()))
    if not names:
        raise UserInputError("name at least one face set, separated by commas (see /faces list)")
    if not idea_list:
        raise UserInputError("list at least one idea, separated by commas")
    total = len(names) * len(idea_list) * per_input
    if total > MAX_BATCH:
        raise UserInputError(
            f"{total} portraits ({len(names)} faces × {len(idea_list)} ideas × {per_input}); "
            f"a batch may have at most {MAX_BATCH}"
        )
    return names, idea_list


def ranked_sheet(cells: list[Cell], images: dict, scores: dict[str, float | None]) -> Image.Image:
    """One face's results, best likeness first (the worker's score, stored with each
    portrait), each labelled with idea, number and score."""
    ranked = sorted(
        cells, key=lambda c: (scores.get(c.job_id) is None, -(scores.get(c.job_id) or 0))
    )
    labels = [
        f"#{rank} {c.idea} {c.number} · " + likeness_text(scores.get(c.job_id))
        for rank, c in enumerate(ranked, 1)
    ]
    return contact_sheet([images[c.job_id] for c in ranked], labels, columns=min(4, len(ranked)))


def likeness_text(score: float | None) -> str:
    return "no face" if score is None else f"likeness {score:.2f}"
