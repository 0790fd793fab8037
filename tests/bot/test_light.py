from tests.helpers import heavy_imports


def test_the_bot_never_imports_torch_or_diffusers() -> None:
    assert heavy_imports("bot.app", "bot.commands", "bot.delivery", "cli.bot") == "none"
