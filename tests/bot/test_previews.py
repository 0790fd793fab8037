"""/portrait edits its progress message with the latest live preview as an attachment, over a
real queue and worker; only Discord is faked."""

import asyncio
import io

import pytest
from PIL import Image

from tests.bot.conftest import OPERATOR, invoke
from tests.bot.fakes import FakeChannel, FakeInteraction, png_attachment

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_progress_message_carries_the_latest_preview(bot, stack, astronaut) -> None:
    from bot.delivery import EditPacer

    # No pacing against a fake: at Discord's pace a quick machine paints the 10 steps between
    # two edits, and the preview gives way to the result unseen (the bound default of
    # EditPacer made patching EDIT_EVERY_S a no-op)
    bot.get_cog("Portraits").pacer = EditPacer(every=0.0)
    stack.start_worker()

    async def go():
        for parameter, value in (("restyle", "on"), ("production_mode", "off"), ("steps", "10")):
            await invoke(bot, "set", parameter=parameter, value=value, scope="user")
        channel = FakeChannel()
        interaction = FakeInteraction(bot, OPERATOR, "portrait", channel)
        await invoke(
            bot,
            "portrait",
            interaction=interaction,
            face=png_attachment(astronaut),
            idea="byzantine emperor",
            style=None,
            seed=3,
            count=1,
        )
        await asyncio.wait_for(asyncio.gather(*bot.get_cog("Portraits").deliveries), 240)
        return channel

    progress, result = asyncio.run(go()).messages
    shown = [files[0] for files in progress.attachment_edits if files]
    assert shown, progress.edits
    assert all(f.filename == "preview.webp" for f in shown)
    shown[-1].fp.seek(0)
    assert Image.open(io.BytesIO(shown[-1].fp.read())).format == "WEBP"
    assert progress.attachment_edits[-1] == []  # done: the preview gives way to the result
    assert progress.edits[-1].endswith("✅ done") and result.file is not None
