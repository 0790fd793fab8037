"""The workbench on 127.0.0.1, driven through its API with gradio_client, on tiny models."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from tests.services import free_port

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PASSWORD = "tiny-models-only"
PARAMS = PortraitParams(
    composition=CompositionParams(prompt="byzantine emperor", width=64, height=64, steps=3),
    identity=IdentityParams(steps=3, crop_size=64, face_box=(0.1, 0.1, 0.9, 0.9)),
)


@pytest.fixture(scope="module")
def workbench_url(portrait_pipeline, tmp_path_factory):
    from core.config import load_settings
    from core.store.migrate import upgrade
    from workbench.app import launch
    from workbench.engine import Workbench

    data = tmp_path_factory.mktemp("wb")
    settings = load_settings(data_dir=data, workbench_password=PASSWORD)
    upgrade(settings.database)
    port = free_port()
    demo = launch(settings, Workbench(settings, portrait_pipeline), "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


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


def test_stage_one_once_then_stage_two_twice_reuses_the_base(client, astronaut_file) -> None:
    from gradio_client import handle_file

    (faces,) = [client.predict(paths=[handle_file(astronaut_file)], api_name="/references")]
    assert len(faces) == 1
    base, _ = client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    assert Image.open(base).size == (64, 64)
    for _ in range(2):
        out = client.predict(text=PARAMS.model_dump_json(), painted=None, api_name="/stage2")
    numbers = stats(out[5])
    assert numbers == {
        "stage1_runs": 1,
        "stage1_unet_calls": 3,
        "stage2_runs": 2,
        "stage2_unet_calls": 6,
    }


def test_a_painted_map_decides_where_the_result_differs(client, astronaut_file, tmp_path) -> None:
    from gradio_client import handle_file

    client.predict(paths=[handle_file(astronaut_file)], api_name="/references")
    base_path, _ = client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    paint = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    paint.paste((0, 0, 0, 255), (0, 0, 32, 64))  # black, opaque: keep the left half
    paint_path = tmp_path / "paint.png"
    paint.save(paint_path)
    out = client.predict(
        text=PARAMS.model_dump_json(), painted=handle_file(str(paint_path)), api_name="/stage2"
    )
    base = np.asarray(Image.open(base_path).convert("RGB"))
    final = np.asarray(Image.open(out[0]).convert("RGB"))
    differs = (base != final).any(-1)
    assert not differs[:, :30].any()  # kept (2 px of resampling blur at the border)
    assert differs[:, 34:].any()


def test_a_two_by_two_sweep_returns_four_labelled_images(client, astronaut_file) -> None:
    from gradio_client import handle_file

    client.predict(paths=[handle_file(astronaut_file)], api_name="/references")
    client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    sheet, cells = client.predict(
        text=PARAMS.model_dump_json(),
        x="identity.guidance_scale",
        xs="2, 5",
        y="identity.seed",
        ys="0, 1",
        api_name="/sweep",
    )
    labels = [cell["caption"].split(" · likeness")[0] for cell in cells]  # each cell: its score
    assert all(" · likeness" in cell["caption"] for cell in cells)
    assert labels == [
        "guidance_scale=2, seed=0",
        "guidance_scale=2, seed=1",
        "guidance_scale=5, seed=0",
        "guidance_scale=5, seed=1",
    ]
    assert Image.open(sheet).size == (512, 2 * (256 + 22))


def test_parameter_json_round_trips_to_the_same_image(client, astronaut_file) -> None:
    from gradio_client import handle_file

    client.predict(paths=[handle_file(astronaut_file)], api_name="/references")
    client.predict(text=PARAMS.model_dump_json(), api_name="/stage1")
    first = client.predict(text=PARAMS.model_dump_json(), painted=None, api_name="/stage2")
    again = client.predict(text=first[6], painted=None, api_name="/stage2")
    assert Image.open(first[0]).tobytes() == Image.open(again[0]).tobytes()
    loaded = client.predict(path=handle_file(first[4]), api_name="/reproduce")
    assert PortraitParams.model_validate_json(loaded[0]) == PortraitParams.model_validate_json(
        first[6]
    )


def test_presets_are_saved_and_loaded(client) -> None:
    client.predict(name="tiny look", text=PARAMS.model_dump_json(), api_name="/save_preset")
    loaded = client.predict(name="tiny look", api_name="/load_preset")
    assert PortraitParams.model_validate_json(loaded[0]) == PARAMS


def test_mistakes_come_back_as_messages(client) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="run stage 1 or upload a base picture first"):
        client.predict(text=PARAMS.model_dump_json(), painted=None, api_name="/stage2")
    with pytest.raises(AppError, match="20 combinations; at most 16 per sweep"):
        client.predict(
            text=PARAMS.model_dump_json(),
            x="identity.seed",
            xs="1, 2, 3, 4, 5",
            y="identity.steps",
            ys="1, 2, 3, 4",
            api_name="/sweep",
        )
    with pytest.raises(AppError, match="guidance_scale = '99'"):
        client.predict(
            text=PARAMS.model_dump_json(),
            x="identity.guidance_scale",
            xs="99",
            y="(none)",
            ys="",
            api_name="/sweep",
        )


def test_a_wrong_password_is_refused(workbench_url) -> None:
    from gradio_client import Client

    with pytest.raises(Exception, match=r"(?i)login|auth|password|credentials"):
        Client(workbench_url, auth=("operator", "wrong"), verbose=False)
