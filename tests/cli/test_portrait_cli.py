import io
from pathlib import Path

import pytest

from core.diffusion.pngmeta import read_likeness, read_params
from tests.core.test_photos import bomb_png
from tests.helpers import run_narcis

SMALL = ["--steps", "3", "--crop-size", "128", "--width", "64", "--height", "64"]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, camera) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    paths = {
        name: folder / name
        for name in (
            "astronaut.png",
            "camera.png",
            "corrupt.jpg",
            "truncated.jpg",
            "tiny.png",
            "bomb.png",
            "notes.txt",
        )
    }
    astronaut.save(paths["astronaut.png"])
    camera.save(paths["camera.png"])
    paths["corrupt.jpg"].write_bytes(b"\xff\xd8\xff\xe0" + b"\x13" * 500)
    jpeg = io.BytesIO()
    astronaut.save(jpeg, format="JPEG")
    paths["truncated.jpg"].write_bytes(jpeg.getvalue()[:5000])
    astronaut.resize((1, 1)).save(paths["tiny.png"])
    paths["bomb.png"].write_bytes(bomb_png(20000, 20000))
    paths["notes.txt"].write_text("not a photo")
    return paths


def test_portrait_on_a_given_base_writes_png_and_intermediates(tiny_models, tmp_path, photos):
    out, inter = tmp_path / "out.png", tmp_path / "steps"
    result = run_narcis(
        "portrait",
        "--face",
        str(photos["astronaut.png"]),
        "--idea",
        "ranch girl",
        "--base",
        str(photos["astronaut.png"]),
        "--models",
        str(tiny_models),
        "--save-intermediates",
        str(inter),
        "--out",
        str(out),
        *SMALL,
        data=tmp_path / "var",
    )
    assert result.returncode == 0, result.stderr
    params = read_params(out)
    assert params.kind == "portrait" and params.idea == "ranch girl"
    likeness = read_likeness(out)  # the score and its analyser travel with the picture
    assert likeness["analyzer"] == "dlib-128" and "score" in likeness
    shown = "—" if likeness["score"] is None else f"{likeness['score']:.2f}"
    unwrapped = "".join(result.stderr.split())  # rich wraps at any space, and long paths too
    assert "".join(f"wrote {out} (likeness {shown}".split()) in unwrapped
    assert sorted(p.name for p in inter.iterdir()) == [
        "base.png",
        "crop.png",
        "final.png",
        "map.png",
        "refined.png",
    ]


def test_a_scene_without_a_face_is_one_line_when_placing_is_off(tiny_models, tmp_path, photos):
    """Random weights paint no face; with the fallback off (placing it is covered in
    tests/core/diffusion/test_portrait.py), one line says why there is no portrait."""
    out = tmp_path / "out.png"
    refused = run_narcis(
        *("portrait", "--face", str(photos["astronaut.png"]), "--prompt", "byzantine emperor"),
        *("--models", str(tiny_models), "--out", str(out), *SMALL),
        data=tmp_path / "var",
        NARCIS_PLACE_FACE="0",
    )
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    last = refused.stderr.strip().splitlines()[-1]
    assert "stage 1 painted no face we could find in 4 tries" in last and not out.exists()


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        ("camera.png", "no face found in camera.png"),
        ("corrupt.jpg", "corrupt.jpg is not an image we can read"),
        ("truncated.jpg", "truncated.jpg is truncated or corrupt"),
        ("tiny.png", "tiny.png is 1×1 pixels"),
        ("bomb.png", "bomb.png has too many pixels"),
        ("notes.txt", "notes.txt is not an image we can read"),
        ("missing.jpg", "missing.jpg: no such file"),
    ],
)
def test_bad_face_photos_are_one_clear_line_and_leave_nothing(
    tiny_models, tmp_path, photos, photo, message
):
    out = tmp_path / "out.png"
    face = photos.get(photo, tmp_path / photo)
    result = run_narcis(
        "portrait",
        "--face",
        str(face),
        "--idea",
        "byzantine emperor",
        "--models",
        str(tiny_models),
        "--out",
        str(out),
        *SMALL,
        data=tmp_path / "var",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in result.stderr
    assert list(tmp_path.glob("out*")) == [] and list(tmp_path.glob(".out*")) == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prompt", "a"], "exactly one of --idea or --prompt"),
        (["--face-id-weight", "9"], "--face-id-weight 9"),
    ],
)
def test_bad_options_are_refused(tiny_models, tmp_path, photos, extra, message):
    result = run_narcis(
        "portrait",
        "--face",
        str(photos["astronaut.png"]),
        "--idea",
        "x",
        "--out",
        str(tmp_path / "o.png"),
        "--models",
        str(tiny_models),
        *extra,
        data=tmp_path / "var",
    )
    assert result.returncode != 0 and message in result.stderr.strip().splitlines()[-1]
