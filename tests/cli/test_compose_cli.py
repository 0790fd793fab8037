from pathlib import Path

import pytest
from PIL import Image

from core.diffusion.pngmeta import read_params
from tests.helpers import run_narcis


def test_compose_round_trips_through_the_png(tiny_models: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.png"
    first = run_narcis(
        "compose",
        "--models",
        str(tiny_models),
        "--prompt",
        "byzantine emperor",
        "--width",
        "64",
        "--height",
        "64",
        "--steps",
        "4",
        "--seed",
        "7",
        "--out",
        str(base),
        data=tmp_path / "var",
    )
    assert first.returncode == 0, first.stderr
    params = read_params(base)
    assert (params.prompt, params.seed, params.steps) == ("byzantine emperor", 7, 4)

    again = tmp_path / "again.png"
    second = run_narcis(
        "compose",
        "--models",
        str(tiny_models),
        "--params",
        str(base),
        "--out",
        str(again),
        data=tmp_path / "var",
    )
    assert second.returncode == 0, second.stderr
    assert Image.open(again).tobytes() == Image.open(base).tobytes()

    varied = tmp_path / "varied.png"
    third = run_narcis(
        "compose",
        "--models",
        str(tiny_models),
        "--params",
        str(base),
        "--seed",
        "8",
        "--out",
        str(varied),
        data=tmp_path / "var",
    )
    assert third.returncode == 0, third.stderr
    assert Image.open(varied).tobytes() != Image.open(base).tobytes()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--width", "1000.5"], "--width"),
        (["--steps", "0"], "--steps 0: input should be greater than or equal to 1"),
        (["--unknown-option", "3"], "No such option: --unknown-option"),
        (["--scheduler", "heun"], "--scheduler 'heun'"),
    ],
)
def test_bad_input_is_one_clear_line(tiny_models: Path, tmp_path: Path, args, expected) -> None:
    result = run_narcis(
        "compose",
        "--models",
        str(tiny_models),
        "--prompt",
        "x",
        "--out",
        str(tmp_path / "x.png"),
        *args,
        data=tmp_path / "var",
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("narcis: error:"), result.stderr
    assert expected in lines[0]
    assert not (tmp_path / "x.png").exists()


def test_params_from_a_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    foreign = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(foreign)
    result = run_narcis(
        "compose", "--params", str(foreign), "--out", str(tmp_path / "o.png"), data=tmp_path / "var"
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip() == f"narcis: error: {foreign} carries no narcis parameters "
        "(not a PNG made by narcis)"
    )


def test_missing_models_say_how_to_get_them(tmp_path: Path) -> None:
    result = run_narcis(
        "compose", "--prompt", "x", "--out", str(tmp_path / "o.png"), data=tmp_path / "var"
    )
    assert result.returncode == 1
    assert "narcis models tiny" in result.stderr and "Traceback" not in result.stderr


def test_the_schedule_is_chosen_on_the_command_line(tiny_models: Path, tmp_path: Path) -> None:
    def compose(schedule: str, out: Path):
        return run_narcis(
            *("compose", "--models", str(tiny_models), "--prompt", "byzantine emperor"),
            *("--width", "64", "--height", "64", "--steps", "6", "--seed", "1"),
            *("--schedule", schedule, "--out", str(out)),
            data=tmp_path / "var",
        )

    ays, sigmas = tmp_path / "ays.png", tmp_path / "sigmas.png"
    assert compose("ays", ays).returncode == 0
    assert compose("ays-sigmas", sigmas).returncode == 0
    assert read_params(sigmas).schedule == "ays-sigmas" and read_params(ays).schedule == "ays"
    assert Image.open(ays).tobytes() != Image.open(sigmas).tobytes()  # other noise levels
    wrong = compose("karras", tmp_path / "wrong.png")
    assert wrong.returncode != 0 and "--schedule 'karras'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
