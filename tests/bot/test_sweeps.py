"""/sweep grids (X across, Y down, a style axis like any other), /faces and /batch."""

import asyncio
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from bot.batches import Cell, batch_inputs, ranked_sheet
from bot.operators import sweep_sheet
from bot.sweeps import parse_sweep
from core.errors import UserInputError
from core.sheets import CAPTION
from core.store.models import Job
from tests.bot.conftest import confirmed, invoke
from tests.bot.fakes import png_attachment

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
THREE_BY_TWO = (
    "idea: pirate\nparameters:\n  guidance_scale: [4, 8, 12]\n  style: [none, comic-book]"
)


def test_a_three_by_two_sweeps_cells_sit_where_their_labels_say() -> None:
    plan = parse_sweep(THREE_BY_TWO)
    colours = {4.0: (255, 0, 0), 8.0: (0, 255, 0), 12.0: (0, 0, 255)}
    shades = {"none": 1.0, "comic-book": 0.5}
    images = [
        Image.new(
            "RGB", (8, 8), tuple(int(c * shades[v["style"]]) for c in colours[v["guidance_scale"]])
        )
        for v in plan.combinations
    ]
    sheet = sweep_sheet(images, plan)
    assert plan.columns == 3 and sheet.size == (3 * 256, 2 * (256 + CAPTION))
    for row, style in enumerate(("none", "comic-book")):
        for column, scale in enumerate((4.0, 8.0, 12.0)):
            pixel = sheet.getpixel((column * 256 + 128, row * (256 + CAPTION) + CAPTION + 128))
            assert pixel == tuple(int(c * shades[style]) for c in colours[scale])
    assert plan.labels[:3] == [
        "guidance_scale=4.0, style=none",
        "guidance_scale=8.0, style=none",
        "guidance_scale=12.0, style=none",
    ]


async def specs(bot, count: int) -> list[dict]:
    async with bot.services.db.session() as session:
        rows = (await session.scalars(select(Job))).all()
    assert len(rows) == count
    return sorted((r.spec for r in rows), key=lambda s: uuid.UUID(s["job_id"]))


@SQLITE
def test_a_sweeps_style_axis_reaches_its_jobs(bot, astronaut) -> None:
    async def go():
        interaction = await confirmed(
            bot, "sweep", face=png_attachment(astronaut), config=THREE_BY_TWO, file=None
        )
        return interaction, await specs(bot, 6)

    interaction, jobs = asyncio.run(go())
    assert "**6 portraits**" in interaction.replies[0].content
    assert [j["style"] for j in jobs] == ["none"] * 3 + ["comic-book"] * 3
    assert [j["overrides"]["composition"]["guidance_scale"] for j in jobs] == [4, 8, 12] * 2


@SQLITE
def test_a_batch_runs_over_saved_face_sets(bot, astronaut) -> None:
    async def go():
        await invoke(
            bot,
            "faces save",
            name="Astro",
            photo=png_attachment(astronaut),
            photo2=png_attachment(astronaut.rotate(3)),
            photo3=None,
            photo4=None,
        )
        listed = await invoke(bot, "faces list")
        interaction = await confirmed(
            bot, "batch", faces="astro", ideas="pirate, queen", per_input=2
        )
        missing = await invoke(bot, "batch", faces="nobody", ideas="pirate", per_input=1)
        return listed, interaction, await specs(bot, 4), missing

    listed, interaction, jobs, missing = asyncio.run(go())
    assert listed.replies[-1].content == "astro"
    assert "**4 portraits** (1 faces × 2 ideas × 2)" in interaction.replies[0].content
    assert all(len(j["references"]) == 2 for j in jobs)
    assert sorted(j["idea"] for j in jobs) == ["pirate", "pirate", "queen", "queen"]
    assert "no face set named 'nobody'" in missing.replies[-1].content


def test_a_batch_is_capped_before_it_costs_anything() -> None:
    with pytest.raises(UserInputError, match=r"600 portraits \(3 faces × 40 ideas × 5\)"):
        batch_inputs("a, b, c", ", ".join(f"idea {i}" for i in range(40)), 5)


def test_the_contact_sheet_ranks_results_by_likeness(astronaut, camera) -> None:
    cells = [Cell("astro", "pirate", n, f"job{n}") for n in (1, 2, 3)]
    images = {"job1": camera, "job2": astronaut, "job3": None}
    sheet = ranked_sheet(cells, images, {"job1": 0.41, "job2": 0.93, "job3": None})
    assert sheet.size == (3 * 256, 256 + CAPTION)
    best = sheet.crop((0, CAPTION, 256, CAPTION + 256))
    assert best.tobytes() == astronaut.convert("RGB").resize((256, 256)).tobytes()
