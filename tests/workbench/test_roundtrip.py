"""Every parameter survives widgets → JSON → PNG → preset unchanged, for 200 random sets.

Floats are drawn on the widgets' 0.01 grid (the sliders' step); everything else over its
whole valid range, seeds up to 2^63 included (they travel as text: a browser number box would
round them past 2^53)."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.pngmeta import read_params, save_png
from workbench.controls import CROP_SIZES, SCHEDULERS, controls_to_params, params_to_controls
from workbench.engine import Workbench, parse_portrait_params


def grid(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(round(low * 100), round(high * 100)).map(lambda n: n / 100)


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
seeds = st.integers(0, 2**63 - 1)
sides = st.integers(8, 256).map(lambda n: n * 8)
fraction = grid(0, 1)
boxes = st.none() | st.tuples(fraction, fraction, fraction, fraction).filter(
    lambda b: b[2] > b[0] and b[3] > b[1]
)
composition = st.builds(
    CompositionParams,
    prompt=text.filter(bool),
    negative_prompt=text,
    width=sides,
    height=sides,
    steps=st.integers(1, 150),
    guidance_scale=grid(0, 30),
    guidance_cutoff=fraction,
    scheduler=st.sampled_from(SCHEDULERS),
    seed=seeds,
)
identity = st.builds(
    IdentityParams,
    prompt=st.none() | text.filter(bool),  # empty means "the stage-1 prompt", as None does
    steps=st.integers(1, 150),
    guidance_scale=grid(0, 30),
    guidance_cutoff=fraction,
    scheduler=st.sampled_from(SCHEDULERS),
    style_strength=grid(0, 100),
    face_id_weight=st.integers(1, 4),
    class_word=st.none() | st.from_regex(r"[a-z]{1,20}", fullmatch=True),
    crop_size=st.sampled_from(CROP_SIZES),
    crop_margin=grid(0, 2),
    mask_core=grid(0.3, 2),
    mask_dilation=fraction,
    mask_feather=fraction,
    face_box=boxes,
    seed=seeds,
)
portraits = st.builds(
    PortraitParams,
    tier=st.sampled_from(["quality", "fast", "preview"]),
    idea=st.none() | text.filter(bool).map(lambda s: s[:60]),
    composition=composition,
    identity=identity,
    face_retries=st.integers(0, 10),
)


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    from core.config import load_settings
    from core.store.migrate import upgrade

    settings_ = load_settings(data_dir=tmp_path_factory.mktemp("roundtrip"))
    upgrade(settings_.database)
    return Workbench(settings_, pipeline=None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=portraits)
def test_parameters_survive_widgets_json_png_and_presets(workbench, params) -> None:
    from_widgets = controls_to_params(params_to_controls(params))
    assert from_widgets == params
    from_json = parse_portrait_params(from_widgets.model_dump_json(indent=2))
    assert from_json == params
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "made.png"
        save_png(Image.new("RGB", (4, 4)), from_json, path)
        from_png = read_params(path)
    assert from_png == params
    workbench.save_preset("roundtrip", from_png)
    assert workbench.load_preset("roundtrip") == params
