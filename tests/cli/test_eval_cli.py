"""`narcis eval`: 2 faces × 2 ideas × 2 seeds on tiny models, ranked by likeness."""

import csv

import pytest
from PIL import Image

from tests.core.diffusion.faces_offline import hopper
from tests.core.diffusion.tiny_clip import build_tiny_clip
from tests.helpers import run_narcis

SMALL = ["--size", "128", "--steps", "2", "--crop-size", "64", "--seeds", "2"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, astronaut, tiny_models):
    root = tmp_path_factory.mktemp("eval")
    faces = root / "faces"
    faces.mkdir()
    astronaut.save(faces / "astronaut.png")
    hopper().save(faces / "hopper.jpg")
    ideas = root / "ideas.txt"
    ideas.write_text("byzantine emperor\n# not an idea\n\npirate queen\n")
    models = root / "models"  # the tiny set plus a tiny CLIP, for prompt adherence
    models.mkdir()
    for part in tiny_models.iterdir():
        (models / part.name).symlink_to(part)
    build_tiny_clip(models / "clip")
    return faces, ideas, models


def test_eval_writes_a_ranked_table_csv_and_sheet(inputs, tmp_path) -> None:
    faces, ideas, models = inputs
    out = tmp_path / "out"
    result = run_narcis(
        "eval",
        *("--faces", str(faces), "--ideas", str(ideas), "--out", str(out)),
        *("--models", str(models), "--restyle", "--mask-core", "0.3", *SMALL),
        data=tmp_path / "var",
    )
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    assert {(r["face"], r["idea"], r["seed"]) for r in rows} == {
        (f, i, s)
        for f in ("astronaut", "hopper")
        for i in ("byzantine emperor", "pirate queen")
        for s in ("0", "1")
    }
    scores = [float(r["likeness"]) for r in rows if r["likeness"]]
    assert scores and scores == sorted(scores, reverse=True)  # best first, unscored last
    assert all(r["likeness"] for r in rows[: len(scores)])
    assert all(r["analyzer"] == "dlib-128" and r["prompt_score"] for r in rows)
    table = (out / "results.md").read_text()
    assert table == result.stdout and table.count("\n| ") == 8  # one line per portrait
    assert Image.open(out / "sheet.png").size == (3 * 256, 3 * (256 + 22))
    assert all((out / r["file"]).is_file() for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faces", "/nonexistent", "--ideas", "/dev/null"], "--faces /nonexistent: not a folder"),
        (["--ideas", "/nonexistent"], "--ideas /nonexistent: no such file"),
        (["--seeds", "0"], "--seeds must be at least 1, not 0"),
    ],
)
def test_bad_eval_input_is_one_line(inputs, tmp_path, args, message) -> None:
    faces, ideas, _ = inputs
    defaults = {"--faces": str(faces), "--ideas": str(ideas)}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [x for k, v in (defaults | given).items() for x in (k, v)]
    result = run_narcis("eval", *argv, data=tmp_path / "var")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"narcis: error: {message}"]
