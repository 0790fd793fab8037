"""The workbench's run history on SQLite and PostgreSQL: kept, listed newest first, filtered,
bounded, and erased with its face set (rows and thumbnails)."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from core.errors import UserInputError
from core.store.db import Database
from core.store.faces import save_face_set
from core.store.history import (
    NO_FACE_SET,
    NewRun,
    RunFilter,
    erase_face_set,
    get_run,
    list_runs,
    prune,
    record_run,
    run_thumbnail,
)
from core.store.media import LocalMedia


def png(colour: tuple[int, int, int], size: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def a_run(seed: int, face_set: str | None = None, idea: str = "byzantine emperor", **more):
    return NewRun(
        kind=more.pop("kind", "stage2"),
        operator=more.pop("operator", "ana"),
        controls={"identity.seed": str(seed), "identity.steps": 3},
        seed=seed,
        images={"final": Image.new("RGB", (1024, 512), (seed * 20 % 255, 90, 40))},
        face_set=face_set,
        idea=idea,
        likeness=0.5 + seed / 100,
        likeness_analyzer="dlib-128",
        timings={"identity": 1.25},
        **more,
    )


def run(work):
    return asyncio.run(work)


@pytest.fixture
def stores(database_url, tmp_path):
    return database_url, LocalMedia(tmp_path / "media")


def with_db(url: str, work):
    async def go():
        db = Database(url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return run(go())


def test_runs_are_kept_listed_newest_first_and_filtered(stores) -> None:
    url, media = stores

    async def work(db):
        await save_face_set(db, media, "Ana", [("a.png", png((200, 150, 120)))], "op")
        kept = [await record_run(db, media, a_run(s, "ana" if s % 2 else None)) for s in range(4)]
        await record_run(db, media, a_run(9, idea="corporate confidence", kind="cell", label="x=1"))
        newest = await list_runs(db)
        assert [r.seed for r in newest] == [9, 3, 2, 1, 0]
        assert [r.seed for r in await list_runs(db, RunFilter(face_set="ana"))] == [3, 1]
        assert [r.seed for r in await list_runs(db, RunFilter(face_set=NO_FACE_SET))] == [9, 2, 0]
        assert [r.seed for r in await list_runs(db, RunFilter(idea="CORPORATE"))] == [9]
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert await list_runs(db, RunFilter(since=later)) == []
        assert len(await list_runs(db, RunFilter(until=later, limit=2))) == 2
        one = await get_run(db, kept[1].id)
        assert (one.face_set, one.idea, one.likeness, one.timings) == (
            "ana",
            "byzantine emperor",
            0.51,
            {"identity": 1.25},
        )
        assert one.controls == {"identity.seed": "1", "identity.steps": 3}
        thumb = Image.open(io.BytesIO(await run_thumbnail(media, one, "final")))
        assert thumb.size == (384, 192)  # a thumbnail, not the picture
        return one

    one = with_db(url, work)
    assert "final" in one.thumbnails and one.thumbnails["final"].startswith("benchruns/")


def test_a_history_survives_a_new_database_object(stores) -> None:
    url, media = stores
    kept = with_db(url, lambda db: record_run(db, media, a_run(5)))
    again = with_db(url, lambda db: get_run(db, kept.id))  # a fresh engine, as after a restart
    assert again == kept


def test_erasing_a_face_set_erases_its_runs_rows_and_thumbnails(stores) -> None:
    url, media = stores

    async def work(db):
        await save_face_set(db, media, "ana", [("a.png", png((200, 150, 120)))], "op")
        await save_face_set(db, media, "bo", [("b.png", png((20, 50, 220)))], "op")
        ana = [await record_run(db, media, a_run(s, "ana")) for s in range(3)]
        bo = await record_run(db, media, a_run(7, "bo"))
        assert await erase_face_set(db, media, "ana") == 3
        for gone in ana:
            assert not await media.keys(f"benchruns/{gone.id}")
            with pytest.raises(UserInputError, match="no run"):
                await get_run(db, gone.id)
        assert [r.seed for r in await list_runs(db)] == [7]  # the other set's run stays
        assert await run_thumbnail(media, bo, "final") is not None
        assert len(await media.keys("facesets")) == 1  # ana's photo went, bo's stayed
        with pytest.raises(UserInputError, match="no face set named 'ana'"):
            await erase_face_set(db, media, "ana")
        # a run that finishes after its set was erased is refused, and leaves no file behind
        with pytest.raises(UserInputError, match="was erased while this run painted"):
            await record_run(db, media, a_run(8, "ana"))
        assert len(await media.keys("benchruns")) == 1

    with_db(url, work)


def test_a_deleted_thumbnail_file_reads_as_none(stores, tmp_path) -> None:
    url, media = stores
    kept = with_db(url, lambda db: record_run(db, media, a_run(1)))
    (tmp_path / "media" / kept.thumbnails["final"]).unlink()
    assert run(run_thumbnail(media, kept, "final")) is None
    assert run(run_thumbnail(media, kept, "base")) is None  # never stored


def test_the_history_is_bounded_per_operator(stores) -> None:
    url, media = stores

    async def work(db):
        for seed in range(5):
            await record_run(db, media, a_run(seed))
        await record_run(db, media, a_run(50, operator="bo"))
        assert await prune(db, media, "ana", keep=2) == 3
        assert [r.seed for r in await list_runs(db)] == [50, 4, 3]
        assert len(await media.keys("benchruns")) == 3

    with_db(url, work)


def test_bad_requests_get_clear_errors(stores) -> None:
    url, media = stores

    async def work(db):
        with pytest.raises(UserInputError, match="run kind 'stage3'"):
            await record_run(db, media, a_run(1, kind="stage3"))
        with pytest.raises(UserInputError, match="no run 'nonsense'"):
            await get_run(db, "nonsense")
        with pytest.raises(UserInputError, match="erased while this run painted"):
            await record_run(db, media, a_run(1, "nobody"))

    with_db(url, work)
