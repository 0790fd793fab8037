import pytest
from pydantic import ValidationError

from core.diffusion.params import CompositionParams
from core.diffusion.pngmeta import parse_params
from core.errors import UserInputError


def test_params_round_trip_through_json() -> None:
    params = CompositionParams(prompt="vampiric beauty", seed=9, steps=12)
    assert parse_params(params.to_json()) == params


@pytest.mark.parametrize(
    "bad",
    [
        dict(width=1001),
        dict(width=32),
        dict(steps=0),
        dict(guidance_scale=31),
        dict(seed=-1),
        dict(prompt=""),
        dict(scheduler="heun"),
        dict(colour="red"),
    ],
)
def test_invalid_params_are_rejected(bad: dict) -> None:
    with pytest.raises(ValidationError):
        CompositionParams(**{"prompt": "x"} | bad)


def test_unknown_version_is_a_clear_error() -> None:
    text = CompositionParams(prompt="x").to_json().replace('"version":1', '"version":99')
    with pytest.raises(UserInputError, match="invalid parameters"):
        parse_params(text)
