"""Discord's servers, as a small HTTP app on 127.0.0.1, so that the real bot logs in and gets
its interactions through discord.py's own dispatch (`parse_interaction_create`: the command
tree, checks, transformers, dynamic buttons, error handlers). What the bot sends back is
recorded; only Discord itself is stood in for.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import discord
from aiohttp import web

from tests.services import free_port

GUILD_ID, CHANNEL_ID, APPLICATION_ID = 900, 77, 4242
_ids = itertools.count(5000)


@dataclass
class Sent:
    """One request the bot made: when, where, and its JSON (or a multipart's payload_json)."""

    at: float
    method: str
    path: str
    body: dict

    @property
    def content(self) -> str | None:
        return self.body.get("content") or (self.body.get("data") or {}).get("content")


@dataclass
class FakeDiscord:
    url: str
    sent: list[Sent] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # attachment id → bytes

    def answers(self, token: str) -> list[Sent]:
        """The follow-ups and edits of one interaction (its first response excluded)."""
        return [s for s in self.sent if f"/webhooks/{APPLICATION_ID}/{token}" in s.path]

    def first_response(self, token: str) -> Sent | None:
        return next((s for s in self.sent if s.path.endswith(f"/{token}/callback")), None)


def _user(user_id: int, name: str) -> dict:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "avatar": None,
        "bot": user_id == APPLICATION_ID,
        "mfa_enabled": False,
        "verified": True,
        "flags": 0,
    }


def _application() -> dict:
    return {
        "id": str(APPLICATION_ID),
        "name": "narcis",
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": _user(1, "owner"),
        "verify_key": "0" * 64,
        "flags": 0,
    }


def message_payload(body: dict, channel_id: int = CHANNEL_ID) -> dict:
    return {
        "id": str(next(_ids)),
        "channel_id": str(channel_id),
        "author": _user(APPLICATION_ID, "narcis"),
        "content": body.get("content") or "",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": body.get("flags", 0),
    }


async def _body(request: web.Request) -> dict:
    if request.content_type == "application/json":
        return await request.json()
    if request.content_type.startswith("multipart/"):
        async for part in await request.multipart():
            if part.name == "payload_json":
                return json.loads(await part.text())
    return {}


def _json(data: dict) -> web.Response:
    """discord.py reads a body as JSON only when its type is exactly application/json."""
    return web.Response(
        body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


def _app(api: FakeDiscord) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix("/api/v10")
        if path.startswith("/files/"):
            return web.Response(body=api.files[path.removeprefix("/files/")])
        body = await _body(request)
        api.sent.append(Sent(time.monotonic(), request.method, path, body))
        if path == "/users/@me":
            return _json(_user(APPLICATION_ID, "narcis"))
        if path == "/oauth2/applications/@me":
            return _json(_application())
        if path.endswith("/callback"):
            interaction_id = path.split("/")[2]
            return _json({"interaction": {"id": interaction_id, "type": 2}})
        if request.method == "DELETE":
            return web.Response(status=204)
        return _json(message_payload(body))

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


@asynccontextmanager
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """The fake API, with discord.py's routes pointed at it while it runs."""
    port = free_port()
    api = FakeDiscord(f"http://127.0.0.1:{port}")
    runner = web.AppRunner(_app(api))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base, discord.http.Route.BASE = discord.http.Route.BASE, f"http://127.0.0.1:{port}/api/v10"
    try:
        yield api
    finally:
        discord.http.Route.BASE = base
        await runner.cleanup()


@asynccontextmanager
async def logged_in(bot: discord.Client) -> AsyncIterator[FakeDiscord]:
    """`bot` logged in to the fake API (its real `setup_hook` runs), with the test guild, its
    operators role and channel in its cache."""
    async with fake_discord() as api:
        await bot.login("test-token")
        state = bot._connection
        guild = state._get_or_create_unavailable_guild(GUILD_ID)
        state._add_guild(guild)
        role_id = bot.services.settings.discord_operator_role_id
        if role_id is not None:
            guild._add_role(discord.Role(guild=guild, state=state, data=_role(role_id)))
        try:
            yield api
        finally:
            await bot.http.close()


def _role(role_id: int) -> dict:
    return {"id": str(role_id), "name": "operators", "permissions": "0", "position": 1}


def _member(user_id: int, roles: list[int]) -> dict:
    return {
        "user": _user(user_id, f"user{user_id}"),
        "roles": [str(r) for r in roles],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "permissions": "0",
    }


def _interaction(kind: int, data: dict, user_id: int, roles: list[int], **extra) -> dict:
    interaction_id = next(_ids)
    return {
        "id": str(interaction_id),
        "application_id": str(APPLICATION_ID),
        "type": kind,
        "token": f"token-{interaction_id}",
        "version": 1,
        "guild_id": str(GUILD_ID),
        "channel_id": str(CHANNEL_ID),
        "channel": {"id": str(CHANNEL_ID), "type": 0, "name": "portraits", "position": 0},
        "member": _member(user_id, roles),
        "data": data,
        "attachment_size_limit": 25 * 2**20,
        "app_permissions": "0",
        "locale": "en-US",
        **extra,
    }


def command(
    api: FakeDiscord,
    name: str,
    user_id: int,
    roles: list[int] = (),
    attachments: dict[str, tuple[str, bytes, str]] | None = None,
    **options: str | int,
) -> dict:
    """A slash command's payload. `attachments`: option → (file name, bytes, content type)."""
    values = [
        {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v} for k, v in options.items()
    ]
    resolved: dict[str, dict] = {}
    for option, (filename, data, content_type) in (attachments or {}).items():
        file_id = str(next(_ids))
        api.files[file_id] = data
        values.append({"name": option, "type": 11, "value": file_id})
        resolved[file_id] = {
            "id": file_id,
            "filename": filename,
            "size": len(data),
            "url": f"{api.url}/files/{file_id}",
            "proxy_url": f"{api.url}/files/{file_id}",
            "content_type": content_type,
        }
    data = {"id": str(next(_ids)), "name": name, "type": 1, "options": values}
    if resolved:
        data["resolved"] = {"attachments": resolved}
    return _interaction(2, data, user_id, list(roles))


def button(custom_id: str, user_id: int, roles: list[int] = ()) -> dict:
    """A press of a button under one of the bot's messages."""
    message = message_payload({"content": "result"})
    message["components"] = [
        {"type": 1, "components": [{"type": 2, "style": 2, "label": "?", "custom_id": custom_id}]}
    ]
    data = {"custom_id": custom_id, "component_type": 2}
    return _interaction(3, data, user_id, list(roles), message=message)


async def dispatch(bot: discord.Client, payload: dict) -> None:
    """What the gateway does with an INTERACTION_CREATE event."""
    bot._connection.parse_interaction_create(payload)
    await asyncio.sleep(0)


async def answered_within(api: FakeDiscord, payload: dict, seconds: float) -> Sent | None:
    """The interaction's first follow-up or edit, if one comes within `seconds` of now."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = api.answers(payload["token"])
        if found:
            return found[0]
        await asyncio.sleep(0.05)
    return None
