"""`/set` parameters as plain functions: parsing and what a job overrides."""

import pytest

from bot import parameters
from core.diffusion.params import PortraitParams
from core.errors import UserInputError


@pytest.mark.parametrize("name", ["ays", "ays-sigmas", "default"])
def test_schedule_is_settable_and_reaches_both_stages(name: str) -> None:
    value = parameters.PARAMETERS["schedule"].parse(name.upper())
    changes = parameters.overrides(parameters.DEFAULTS | {"schedule": value})
    params = PortraitParams.model_validate(
        {
            "composition": {"prompt": "pirate"} | changes["composition"],
            "identity": changes["identity"],
        }
    )
    assert params.composition.schedule == params.identity.schedule == name


def test_unknown_schedule_names_the_choices() -> None:
    with pytest.raises(UserInputError, match="schedule must be one of ays, ays-sigmas, default"):
        parameters.PARAMETERS["schedule"].parse("karras")


def test_style_still_checks_against_the_styles() -> None:
    with pytest.raises(UserInputError, match="style must be one of none, cinematic"):
        parameters.PARAMETERS["style"].parse("karras")
