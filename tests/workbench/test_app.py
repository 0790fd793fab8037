"""The workbench on 127.0.0.1, driven through its API with gradio_client, on tiny models."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import read_likeness, read_params
from tests.services import free_port

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PASSWORD = "tiny-models-only"
PARAMS = PortraitParams(
    idea="byzantine emperor",
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
    identity=IdentityParams(steps=3, crop_size=64, face_box=(0.1, 0.1, 0.9, 0.9)),
)
# stage2 outputs, in order (State outputs are not part of the API)
FINAL, FINAL_FILE, EDITOR, MAP, FACE, SLIDER, STEPS, STAGED, STATS, PLOT, SCORE = range(11)


@contextlib.contextmanager
def served(pipeline, data):
    """The workbench on a free loopback port over a migrated database in `data`; yields its
    address and settings."""
    from core.config import load_settings
    from core.store.migrate import upgrade
    from workbench.app import launch
    from workbench.engine import Workbench
    from workbench.login import LoginLimits

    settings = load_settings(data_dir=data, workbench_password=PASSWORD)
    upgrade(settings.database)
    port = free_port()
    many = LoginLimits(attempts_per_minute=10**6)  # every test logs in from 127.0.0.1
    demo = launch(settings, Workbench(settings, pipeline), "127.0.0.1", port, False, many)
    try:
        yield f"http://127.0.0.1:{port}/", settings
    finally:
        demo.close()


@pytest.fixture(scope="module")
def workbench_url(portrait_pipeline, tmp_path_factory):
    with served(portrait_pipeline, tmp_path_factory.mktemp("wb")) as (url, _):
        yield url


@pytest.fixture
def client(workbench_url):
    from gradio_client import Client

    return Client(workbench_url, auth=("operator", PASSWORD), verbose=False)


@pytest.fixture(scope="module")
def astronaut_file(astronaut, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    astronaut.save(path)
    return str(path)


def stats(text: str) -> dict:
    return json.loads(text)


def stage2(client, params: PortraitParams = PARAMS, painted=None, strength=1.0, invert=False):
    return client.predict(
        text=params.model_dump_json(),
        painted=painted,
        power=strength,
        flip=invert,
        uploaded=None,
        api_name="/stage2",
    )


def ready(client, astronaut_file, params: PortraitParams = PARAMS) -> str:
    from gradio_client import handle_file

    client.predict(paths=[handle_file(astronaut_file)], api_name="/references")
    return client.predict(text=params.model_dump_json(), api_name="/stage1")[0]


def path_of(item) -> str:
    """A gallery item's or a file output's path, whichever shape gradio_client gives."""
    if isinstance(item, dict):
        item = item.get("image", item)
        return item if isinstance(item, str) else item["path"]
    return item


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def test_stage_one_once_then_stage_two_twice_reuses_the_base(client, astronaut_file) -> None:
    base = ready(client, astronaut_file)
    assert Image.open(base).size == (64, 64)
    for _ in range(2):
        out = stage2(client)
    assert stats(out[STATS]) == {
        "stage1_runs": 1,
        "stage1_unet_calls": 3,
        "stage2_runs": 2,
        "stage2_unet_calls": 6,
        "references": 1,
    }
    assert len(out[STAGED]) == 2  # both results staged to compare


def test_a_painted_map_decides_where_the_result_differs(client, astronaut_file, tmp_path) -> None:
    from gradio_client import handle_file

    base_path = ready(client, astronaut_file)
    paint = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    paint.paste((0, 0, 0, 255), (0, 0, 32, 64))  # black, opaque: keep the left half
    paint_path = tmp_path / "paint.png"
    paint.save(paint_path)
    painted = {"background": None, "layers": [handle_file(str(paint_path))], "composite": None}
    out = stage2(client, painted=painted)
    differs = (pixels(base_path) != pixels(out[FINAL])).any(-1)
    assert not differs[:, :30].any()  # kept (2 px of resampling blur at the border)
    assert differs[:, 34:].any()
    # No ghost paint: the editor comes back with the strokes that were applied on top.
    (layer,) = out[EDITOR]["layers"]
    layer = layer if isinstance(layer, str) else layer["path"]
    assert np.asarray(Image.open(layer).convert("RGBA"))[:, :32, 3].min() == 255
    # At half strength the same stroke only pulls the map halfway toward "keep".
    half = stage2(client, painted=painted, strength=0.5)
    assert (pixels(base_path) != pixels(half[FINAL])).any(-1)[:, :30].any()


def test_a_stage_one_sweep_keeps_the_kept_base_and_runs_stage_one_once_per_set(
    client, astronaut_file
) -> None:
    base_path = ready(client, astronaut_file)
    before = stats(stage2(client)[STATS])
    grids, cells, cost, counters, files = client.predict(
        text=PARAMS.model_dump_json(),
        x="identity.guidance_scale",
        xs="2, 5, 8",
        y="composition.seed",
        ys="1-2",
        z="(none)",
        zs="",
        api_name="/sweep",
    )
    after = stats(counters)
    assert after["stage1_runs"] - before["stage1_runs"] == 2  # 2 stage-1 sets, not 6 cells
    assert after["stage2_runs"] - before["stage2_runs"] == 6
    assert cost == "**6 cells**: 24 UNet steps run"  # 2 × 3 + 6 × 3
    # the kept base is unchanged: the next stage 2 runs on it again
    again = stage2(client)
    assert pixels(again[SLIDER][0]).tobytes() == pixels(base_path).tobytes()
    # 3 × 2: X across, Y down, each cell where its label says
    (sheet,) = grids
    assert Image.open(path_of(sheet)).size == (3 * 256, 2 * (256 + 22))
    assert all(" · likeness" in c["caption"] for c in cells)  # each cell: its score
    assert [Path(path_of(f)).suffix for f in files] == [".png", ".json"]  # the sheet, exported
    assert read_params(path_of(files[0])) == PARAMS
    labels = [c["caption"].split(" · likeness")[0] for c in cells]
    assert labels[:3] == [
        "guidance_scale=2, seed=1",
        "guidance_scale=5, seed=1",
        "guidance_scale=8, seed=1",
    ]
    grid_image = pixels(path_of(sheet))
    for index, cell in enumerate(cells):
        row, column = divmod(index, 3)
        shown = grid_image[row * 278 + 22 : row * 278 + 278, column * 256 : column * 256 + 256]
        cell_image = np.asarray(Image.open(path_of(cell)).convert("RGB").resize((256, 256)))
        assert np.abs(shown.astype(int) - cell_image).mean() < 1, cell["caption"]


def test_a_z_axis_makes_one_grid_per_value(client, astronaut_file) -> None:
    ready(client, astronaut_file)
    grids, cells, *_ = client.predict(
        text=PARAMS.model_dump_json(),
        x="identity.seed",
        xs="0, 1",
        y="identity.scheduler",
        ys="dpmpp_2m, euler",
        z="prompt S/R",
        zs="emperor, queen",
        api_name="/sweep",
    )
    assert [g["caption"] for g in grids] == ["prompt S/R = emperor", "prompt S/R = queen"]
    assert len(cells) == 8


@pytest.mark.serial
def test_stop_ends_a_sweep_between_steps(client, astronaut_file) -> None:
    from gradio_client.exceptions import AppError

    ready(client, astronaut_file)
    params = PARAMS.model_copy(
        update={"identity": PARAMS.identity.model_copy(update={"steps": 40})}
    )
    job = client.submit(
        text=params.model_dump_json(),
        x="identity.seed",
        xs="0-15",
        y="(none)",
        ys="",
        z="(none)",
        zs="",
        api_name="/sweep",
    )
    time.sleep(2)
    started = time.monotonic()
    client.predict(api_name="/stop")
    with pytest.raises(AppError, match="Stopped"):
        job.result(timeout=60)
    assert time.monotonic() - started < 15  # 16 cells × 40 steps would take far longer


def test_parameter_json_round_trips_to_the_same_image(client, astronaut_file) -> None:
    from gradio_client import handle_file

    ready(client, astronaut_file)
    first = stage2(client)
    # the Final image's own file carries every parameter, the idea included
    assert read_params(first[FINAL]) == PARAMS and read_params(first[FINAL]).idea
    # ... and its likeness, shown beside it with the analyser that measured it
    likeness = read_likeness(first[FINAL])
    assert likeness["analyzer"] == "dlib-128" and first[SCORE].startswith("likeness ")
    assert first[SCORE].endswith("dlib-128)")
    loaded = client.predict(path=handle_file(first[FINAL_FILE]), api_name="/reproduce")
    assert PortraitParams.model_validate_json(loaded[0]) == PARAMS
    again = stage2(client, PortraitParams.model_validate_json(loaded[0]))
    assert pixels(first[FINAL]).tobytes() == pixels(again[FINAL]).tobytes()


def test_staged_results_are_accepted_or_rejected(client, astronaut_file) -> None:
    ready(client, astronaut_file)
    for seed in (1, 2):
        params = PARAMS.model_copy(
            update={"identity": PARAMS.identity.model_copy(update={"seed": seed})}
        )
        out = stage2(client, params)
    assert [s["caption"] for s in out[STAGED]][:2] == ["#1 · id seed 2", "#2 · id seed 1"]
    accepted = client.predict(api_name="/accept")
    assert read_likeness(accepted[0])["analyzer"] == "dlib-128"
    assert accepted[2].startswith("likeness ")
    assert PortraitParams.model_validate_json(accepted[3]).identity.seed == 2
    staged = client.predict(api_name="/reject")
    assert staged[0]["caption"] == "#1 · id seed 1"


def test_stage_two_leaves_no_temporary_folders(client, astronaut_file) -> None:
    ready(client, astronaut_file)
    folder = tempfile.gettempdir()
    before = set(os.listdir(folder))
    for _ in range(3):
        stage2(client)
    assert {n for n in set(os.listdir(folder)) - before if n.startswith("tmp")} == set()


def test_a_reference_without_a_face_changes_nothing(client, astronaut_file, camera, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    camera_path = tmp_path / "camera.png"
    camera.save(camera_path)
    two = [handle_file(astronaut_file), handle_file(astronaut_file)]
    assert len(client.predict(paths=two, api_name="/references")) == 2
    with pytest.raises(AppError, match=r"no face found in photo 2 \(camera.png\)"):
        client.predict(
            paths=[handle_file(astronaut_file), handle_file(str(camera_path))],
            api_name="/references",
        )
    client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    assert stats(stage2(client)[STATS])["references"] == 2  # the two that were shown


def test_presets_are_saved_and_loaded(client) -> None:
    client.predict(name="tiny look", text=PARAMS.model_dump_json(), api_name="/save_preset")
    loaded = client.predict(name="tiny look", api_name="/load_preset")
    assert PortraitParams.model_validate_json(loaded[0]) == PARAMS


def test_mistakes_come_back_as_messages(client, astronaut_file) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="run stage 1 or upload a base picture first"):
        stage2(client)
    sweep = {"z": "(none)", "zs": "", "api_name": "/sweep", "text": PARAMS.model_dump_json()}
    with pytest.raises(AppError, match="20 combinations; at most 16 per sweep"):
        client.predict(x="identity.seed", xs="1-5", y="identity.steps", ys="1-4", **sweep)
    with pytest.raises(AppError, match="guidance_scale = '99'"):
        client.predict(x="identity.guidance_scale", xs="99", y="(none)", ys="", **sweep)
    flat = PARAMS.model_copy(
        update={"identity": PARAMS.identity.model_copy(update={"face_box": (0.5, 0.1, 0.5, 0.9)})}
    )
    ready(client, astronaut_file)
    with pytest.raises(AppError, match=r"face box 0\.5, 0\.1, 0\.5, 0\.9 has no size"):
        stage2(client, flat)


def test_a_wrong_password_is_refused(workbench_url) -> None:
    from gradio_client import Client

    with pytest.raises(Exception, match=r"(?i)login|auth|password|credentials"):
        Client(workbench_url, auth=("operator", "wrong"), verbose=False)
