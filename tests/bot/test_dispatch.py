"""The bot's loose ends, through discord.py's own dispatch: the real bot logs in to a stand-in
for Discord's servers (tests/bot/discord_api.py) and gets its interactions as the gateway
hands them over. Every deferred answer is edited in time, with Redis stalled or down; a gone
job, a visitor's Parameters and a file that is no photo each get a clear answer."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
import uuid

import pytest

from core.store.models import Job, Portrait
from tests.bot.conftest import OPERATOR_ROLE_ID, bot_services
from tests.bot.discord_api import FakeDiscord, button, command, dispatch, logged_in
from tests.bot.test_rights import submitted
from tests.services import RedisServer

pytestmark = [
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]
NOT_ANSWERING = "the queue is not answering"
OPERATOR, OWNER, VISITOR = 1, 4, 2  # user ids; the owner is test_rights' OWNER
OPS = [OPERATOR_ROLE_ID]


def real_bot(stack, redis_url: str):
    """The bot as `narcis bot` builds it (its own setup_hook runs at login)."""
    from bot.app import NarcisBot

    return NarcisBot(bot_services(stack, redis_url))


async def answer(api: FakeDiscord, payload: dict, seconds: float = 10.0) -> tuple[str, float]:
    """The interaction's answer — a message as its first response, or the first follow-up or
    edit after a defer — and how long after now it came."""
    started, token = time.monotonic(), payload["token"]
    while time.monotonic() - started < seconds:
        first = api.first_response(token)
        if first is not None and first.body.get("type") == 4:  # answered without deferring
            return first.content, first.at - started
        later = api.answers(token)
        if later:
            return later[0].content, later[0].at - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer within {seconds} s: {payload['data']}")


async def answers_to(bot, api: FakeDiscord, payloads: list[dict]) -> list[tuple[str, float]]:
    """Dispatch every payload at once and wait for all their answers."""
    for payload in payloads:
        await dispatch(bot, payload)
    return await asyncio.gather(*(answer(api, p) for p in payloads))


def face_png(image) -> tuple[str, bytes, str]:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ("face.png", buffer.getvalue(), "image/png")


def test_every_deferred_answer_comes_in_time_with_redis_stalled_then_down(
    stack, astronaut, tmp_path
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    bot = real_bot(stack, server.url)

    def requests(api: FakeDiscord, user: int, pid: str) -> list[dict]:
        photo = {"face": face_png(astronaut)}
        return [
            command(api, "settings", user, OPS),
            command(api, "set", user, OPS, parameter="steps", value="10"),
            command(api, "portrait", user, OPS, attachments=photo, idea="pirate"),
            button(f"narcis:reroll:{pid}:{user}", user, OPS),
            button(f"narcis:vary:{pid}:{user}", user, OPS),
        ]

    async def go():
        async with logged_in(bot) as api:
            pid = await submitted(bot, stack)
            await answers_to(bot, api, [command(api, "settings", OPERATOR, OPS)])  # pool warm
            os.kill(server.process.pid, signal.SIGSTOP)
            stalled = await answers_to(bot, api, requests(api, OPERATOR, pid))
            os.kill(server.process.pid, signal.SIGCONT)
            server.kill()
            down = await answers_to(bot, api, requests(api, OWNER, pid))
            return stalled, down, api

    try:
        stalled, down, api = asyncio.run(go())
    finally:
        if server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
    for text, seconds in stalled + down:
        assert text.startswith(NOT_ANSWERING) and seconds <= 5.0, (text, seconds)
    deferred = [s for s in api.sent if s.path.endswith("/callback")]
    assert all(s.body == {"type": 5, "data": {"flags": 64}} for s in deferred[1:])


def test_reroll_and_vary_of_a_portrait_whose_job_is_gone_say_so(stack) -> None:
    bot = real_bot(stack, stack.redis_url)

    async def go():
        async with logged_in(bot) as api:
            pid = await submitted(bot, stack)
            async with bot.services.db.session() as session:
                await session.delete(await session.get(Job, uuid.UUID(pid)))
            presses = [button(f"narcis:{a}:{pid}:{OWNER}", OWNER) for a in ("reroll", "vary")]
            answers = await answers_to(bot, api, presses)
            await bot.services.close()
            return answers

    for text, _ in asyncio.run(go()):
        assert "cannot be rerolled or varied" in text and "gone" in text, text
        assert "something went wrong" not in text.lower()


def test_parameters_show_a_visitor_the_recipe_in_brief_and_operators_its_json(stack) -> None:
    bot = real_bot(stack, stack.redis_url)

    async def go():
        async with logged_in(bot) as api:
            waiting = await submitted(bot, stack)
            painted = await submitted(bot, stack)
            async with bot.services.db.session() as session:
                portrait = await session.get(Portrait, uuid.UUID(painted))
                portrait.parameters = PAINTED
                portrait.likeness, portrait.likeness_analyzer = 0.71, "dlib-128"
            presses = [
                button(f"narcis:params:{waiting}:{OWNER}", VISITOR),
                button(f"narcis:params:{painted}:{OWNER}", VISITOR),
                button(f"narcis:params:{painted}:{OWNER}", OPERATOR, OPS),
            ]
            return await answers_to(bot, api, presses)

    (early, _), (brief, _), (full, _) = asyncio.run(go())
    assert early == "No parameters yet: this portrait is still being painted."
    assert "**pirate queen** · 512×512" in brief and "likeness 0.71 (dlib-128)" in brief
    assert "scene seed 11 · face seed 12" in brief and "```json" not in brief
    assert full.startswith(brief) and '"guidance_scale": 5.5' in full and len(full) <= 2000


PAINTED = {
    "kind": "portrait",
    "idea": "pirate queen",
    "composition": {"width": 512, "height": 512, "seed": 11, "steps": 8, "schedule": "ays"},
    "identity": {"seed": 12, "steps": 8, "style_strength": 20.0, "guidance_scale": 5.5},
}


def test_a_file_that_is_no_photo_is_refused_before_the_defer_or_before_the_face_check(
    stack,
) -> None:
    async def go():
        bot = real_bot(stack, stack.redis_url)
        async with logged_in(bot) as api:
            pdf = {"face": ("face.pdf", b"%PDF-1.4 not a face", "application/pdf")}
            junk = {"face": ("face.png", b"\x89PNG but not really" * 50, "image/png")}
            payloads = [
                command(api, "portrait", OPERATOR, OPS, attachments=pdf, idea="pirate"),
                command(api, "portrait", OWNER, OPS, attachments=junk, idea="pirate"),
            ]
            return await answers_to(bot, api, payloads), api, payloads

    [(pdf, _), (junk, junk_s)], api, (pdf_payload, _) = asyncio.run(go())
    assert pdf == "face.pdf is not an image (application/pdf)"
    assert api.first_response(pdf_payload["token"]).body["type"] == 4  # no "thinking…" at all
    assert junk == "face.png is not an image we can read (JPEG, PNG or WebP)"
    assert junk_s <= 1.0  # not after the face analyser has loaded
