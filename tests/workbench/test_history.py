"""The workbench's history: what a reload puts back (and refuses), one `RunHistory` shared by
many threads on SQLite and PostgreSQL, and the real workbench keeping, listing, reloading and
erasing runs through its API."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from core.config import load_settings
from core.errors import UserInputError
from core.store.history import RunFilter
from tests.workbench.test_app import PARAMS, PASSWORD, served
from tests.workbench.test_history_browser import EVERY, PAGE
from workbench.controls import WIDGET_PATHS
from workbench.history import RunHistory, new_run, restore, run_controls

# 1. What a reload puts back


def test_every_control_round_trips_through_a_stored_run() -> None:
    restored = restore(run_controls(EVERY, PAGE))
    assert (restored.params, restored.extras, restored.notes) == (EVERY, PAGE, [])


def test_a_control_that_no_longer_exists_is_named_and_the_rest_loads() -> None:
    stored = {**run_controls(EVERY, PAGE), "identity.sharpness": 0.4, "old.knob": "x"}
    restored = restore(stored)
    assert restored.params == EVERY
    assert restored.notes == [
        "not restored, no such control any more: identity.sharpness, old.knob"
    ]


def test_a_run_from_before_a_control_existed_gets_its_default() -> None:
    stored = run_controls(EVERY, {})
    del stored["identity.mask_feather"]
    restored = restore(stored)
    assert restored.params.identity.mask_feather == 0.15  # the default
    assert restored.notes == ["not stored, set to the default: identity.mask_feather"]
    assert restored.extras == {}  # a stage-1 or cell run stores no map controls


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("identity.steps", 500, "identity.steps = 500: input should be less than or equal"),
        ("composition.width", 100, "composition.width = 100"),
        ("identity.seed", "-3", "a seed is a whole number"),
        ("identity.face_box", "1, 2", "identity.face_box"),
        ("identity.face_box", ["x"], "face box"),
        ("composition.scheduler", "ddim", "composition.scheduler = 'ddim'"),
        ("composition.steps", {"nested": 1}, "composition.steps"),
        ("map.strength", 3.5, "map.strength = 3.5 is out of range"),
        ("style", "baroque-ish", "style = 'baroque-ish' is out of range"),
        ("map.invert", "yes", "map.invert = 'yes'"),
    ],
)
def test_an_out_of_range_value_refuses_the_reload_and_names_it(name, value, message) -> None:
    stored = {**run_controls(EVERY, PAGE), name: value}
    with pytest.raises(UserInputError, match="this run cannot be reloaded") as caught:
        restore(stored)
    assert message in str(caught.value)


def test_unreadable_stored_controls_are_refused() -> None:
    with pytest.raises(UserInputError, match="unreadable"):
        restore(["not", "a", "dict"])  # type: ignore[arg-type]


# 2. One history, many threads


def picture(seed: int) -> Image.Image:
    return Image.new("RGB", (96, 96), (seed % 255, 40, 200))


def test_many_threads_share_one_history(database_url, tmp_path) -> None:
    """Eight operators' event threads keep and list runs at once: every run kept once, whole,
    with its own thumbnail, and every listing sorted newest first."""
    history = RunHistory(load_settings(data_dir=tmp_path / "var", database_url=database_url))
    gate = threading.Barrier(8)

    def operator(number: int) -> list[str]:
        gate.wait()  # all at once: the worst case
        ids = []
        for k in range(6):
            seed = number * 100 + k
            params = PARAMS.model_copy(
                update={"identity": PARAMS.identity.model_copy(update={"seed": seed})}
            )
            run = new_run("stage2", f"op{number}", params, {"final": picture(seed)})
            ids.append(str(history.record(run).id))
            listed = history.runs(RunFilter(limit=500))
            assert [r.created_at for r in listed] == sorted(
                (r.created_at for r in listed), reverse=True
            )
        return ids

    try:
        with ThreadPoolExecutor(8) as pool:
            ids = [i for batch in pool.map(operator, range(8)) for i in batch]
        assert len(set(ids)) == 48
        kept = history.runs(RunFilter(limit=500))
        assert sorted(str(r.id) for r in kept) == sorted(ids)
        for run in kept:  # each row names its own thumbnail, of its own seed
            thumb = history.thumbnail(run, "final")
            assert thumb.getpixel((0, 0))[0] == run.seed % 255
            assert run.controls["identity.seed"] == str(run.seed)
    finally:
        history.close()


def test_erasing_a_face_set_while_operators_paint_from_it_leaves_nothing(
    database_url, tmp_path
) -> None:
    """Four threads keep runs of face set "ana" through one history while another history
    object (as another process would) erases the set: afterwards no run of it is listed, and
    every thumbnail folder left belongs to a run still listed."""
    import io as bytes_io

    settings = load_settings(data_dir=tmp_path / "var", database_url=database_url)
    writer, eraser = RunHistory(settings), RunHistory(settings)
    photo = bytes_io.BytesIO()
    picture(1).save(photo, format="PNG")
    writer.save_face_set("ana", [("a.png", photo.getvalue())], "op")
    writer.save_face_set("bo", [("b.png", photo.getvalue())], "op")  # the same photo: kept
    refused, stop = [], threading.Event()

    def paint(number: int) -> int:
        kept = 0
        while not stop.is_set():
            face_set = "ana" if kept % 4 else "bo"
            images = {"final": picture(kept)}
            run = new_run("cell", f"op{number}", PARAMS, images, face_set=face_set)
            try:
                writer.record(run)
                kept += 1
            except UserInputError as exc:  # the set went while this run was stored
                refused.append(str(exc))
                kept += 1
        return kept

    try:
        with ThreadPoolExecutor(4) as pool:
            painting = [pool.submit(paint, n) for n in range(4)]
            while len(writer.runs(RunFilter(face_set="ana", limit=500))) < 8:
                stop.wait(0.05)  # runs of ana are being kept
            erased = eraser.erase_face_set("ana")
            threading.Event().wait(0.5)  # and runs keep coming for a moment after
            stop.set()
            assert sum(f.result() for f in painting) > erased >= 8
        left = writer.runs(RunFilter(limit=500))
        assert left and {r.face_set for r in left} == {"bo"}
        folders = {p.name for p in (settings.media_path / "benchruns").iterdir()}
        assert folders == {str(r.id) for r in left}  # no thumbnail outlived its run
        assert all("was erased while this run painted" in r for r in refused), set(refused)
        assert writer.face_set_photos("bo")  # the photo both sets held is still there
    finally:
        writer.close()
        eraser.close()


def test_a_run_finishes_when_the_history_database_is_down(tmp_path) -> None:
    """The history is a record, not a step of the run: a database that refuses connections
    costs the operator a warning, the run's result still reaches the page, and the thumbnail
    stored before the row is removed again."""
    from tests.services import free_port
    from workbench.history_ui import keep

    dead = f"postgresql+asyncpg://narcis:x@127.0.0.1:{free_port()}/narcis"  # nobody listens
    settings = load_settings(data_dir=tmp_path / "var", database_url=dead)
    history = RunHistory(settings)
    try:
        keep(history, new_run("stage1", "op", PARAMS, {"base": picture(1)}))  # no raise
        assert not list((settings.media_path / "benchruns").glob("*/*"))
    finally:
        history.close()


# 3. The real workbench, through its API


@pytest.fixture(scope="module")
def bench_server(portrait_pipeline, tmp_path_factory):
    with served(portrait_pipeline, tmp_path_factory.mktemp("history")) as server:
        yield server


@pytest.fixture
def client(bench_server):
    from gradio_client import Client

    return Client(bench_server[0], auth=("operator", PASSWORD), verbose=False)


def loaded(out) -> dict:
    """A /load_run answer, by name: JSON, every widget, the extras, …, the description."""
    names = ["json", *WIDGET_PATHS, "style", "map.strength", "map.invert", "plot", "about"]
    names += ["compare", "difference", "face_set"]
    return dict(zip(names, out, strict=False))


def stored_row(settings, run_id: str, **controls) -> None:
    """Change a kept run's stored controls, as an older or damaged row would have them."""
    from sqlalchemy import update

    from core.store.db import Database
    from core.store.history import WorkbenchRun, get_run

    async def go():
        db = Database(settings.database)
        try:
            run = await get_run(db, run_id)
            async with db.session() as session:
                changed = WorkbenchRun.controls.__clause_element__()
                await session.execute(
                    update(WorkbenchRun)
                    .where(WorkbenchRun.id == run.id)
                    .values({changed: {**run.controls, **controls}})
                )
        finally:
            await db.dispose()

    asyncio.run(go())


def test_runs_are_kept_reloaded_and_erased_with_their_face_set(
    client, bench_server, astronaut_file
) -> None:
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    settings = bench_server[1]
    media = settings.media_path
    # Runs from a saved face set: saved from the uploaded photo, then used by name
    client.predict(name="ana", paths=[handle_file(astronaut_file)], api_name="/save_face_set")
    client.predict(name="ana", api_name="/use_face_set")
    client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    client.predict(
        text=PARAMS.model_dump_json(),
        painted=None,
        power=0.5,
        flip=True,
        uploaded=None,
        style_name="photographic",
        api_name="/stage2",
    )
    gallery, ids = client.predict(face_set="ana", idea="", since="", until="", api_name="/history")
    assert [item["caption"].split(" · ")[0] for item in gallery] == ["stage 2", "stage 1"]
    out = loaded(client.predict(run_id=ids[0], api_name="/load_run"))
    assert out["style"] == "photographic" and out["map.strength"] == 0.5 and out["map.invert"]
    assert out["identity.steps"] == PARAMS.identity.steps and "face set: ana" in out["about"]
    assert out["face_set"] == "ana"  # ready to be used again
    # A deleted thumbnail file: the run still lists (a placeholder) and still reloads
    for thumb in (media / "benchruns" / ids[0]).iterdir():
        thumb.unlink()
    gallery, _ = client.predict(face_set="ana", idea="", since="", until="", api_name="/history")
    assert len(gallery) == 2
    out = loaded(client.predict(run_id=ids[0], api_name="/load_run"))
    assert "thumbnail file is gone" in out["about"]
    # A stored control that no longer exists: the rest loads; out of range: a clear refusal
    stored_row(settings, ids[1], **{"identity.sharpness": 2})
    assert loaded(client.predict(run_id=ids[1], api_name="/load_run"))["identity.seed"] == "0"
    stored_row(settings, ids[1], **{"identity.guidance_scale": 99})
    with pytest.raises(AppError, match=r"cannot be reloaded: identity\.guidance_scale = 99"):
        client.predict(run_id=ids[1], api_name="/load_run")
    with pytest.raises(AppError, match="no run 'nonsense'"):
        client.predict(run_id="nonsense", api_name="/load_run")
    # Erasing the face set erases its runs: rows and thumbnails
    with pytest.raises(AppError, match="tick"):
        client.predict(name="ana", sure=False, api_name="/erase_face_set")
    client.predict(name="ana", sure=True, api_name="/erase_face_set")
    _, left = client.predict(face_set="(any)", idea="", since="", until="", api_name="/history")
    assert not set(left) & set(ids)
    assert not any((media / "benchruns" / run_id).exists() for run_id in ids)
    # … and a run painted afterwards from the erased set's photos is refused by the history,
    # while its result still reaches the page
    out = client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    assert out[0] is not None
    with pytest.raises(AppError, match="write it as YYYY-MM-DD"):
        client.predict(face_set="(any)", idea="", since="03/12", until="", api_name="/history")
