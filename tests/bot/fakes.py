"""Stand-ins for Discord's servers, and nothing else: interactions, channels, messages and
attachments that record what the bot sends. Everything behind them is real."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from typing import Any

import discord

_ids = itertools.count(1000)


@dataclass
class FakeRole:
    name: str


@dataclass
class FakeUser:
    id: int
    roles: list[FakeRole] = field(default_factory=list)
    name: str = "tester"


@dataclass
class FakeMessage:
    channel: FakeChannel
    content: str | None = None
    file: discord.File | None = None
    view: Any = None
    id: int = field(default_factory=lambda: next(_ids))
    edits: list[str] = field(default_factory=list)
    deleted: bool = False
    attachment_edits: list[list[discord.File]] = field(default_factory=list)

    async def edit(
        self, content: str | None = None, attachments: list | None = None, **_: Any
    ) -> FakeMessage:
        self.content = content
        self.edits.append(content)
        if attachments is not None:
            self.attachment_edits.append(attachments)
        return self

    async def delete(self) -> None:
        self.deleted = True

    @property
    def jump_url(self) -> str:
        return f"https://discord.test/{self.id}"

    def file_bytes(self) -> bytes:
        self.file.fp.seek(0)
        return self.file.fp.read()


@dataclass
class FakeChannel:
    id: int = 77
    messages: list[FakeMessage] = field(default_factory=list)

    async def send(
        self,
        content: str | None = None,
        *,
        file: discord.File | None = None,
        view: Any = None,
        **_: Any,
    ) -> FakeMessage:
        message = FakeMessage(self, content, file, view)
        self.messages.append(message)
        return message


@dataclass
class Reply:
    content: str | None
    ephemeral: bool
    view: Any = None


class FakeResponse:
    def __init__(self, interaction: FakeInteraction) -> None:
        self.interaction, self._done = interaction, False

    def is_done(self) -> bool:
        return self._done

    async def defer(self, **_: Any) -> None:
        self._done = True

    async def send_message(
        self, content: str | None = None, *, ephemeral: bool = False, view: Any = None, **_: Any
    ) -> None:
        self._done = True
        self.interaction.replies.append(Reply(content, ephemeral, view))


class FakeFollowup:
    def __init__(self, interaction: FakeInteraction) -> None:
        self.interaction = interaction

    async def send(self, content: str | None = None, *, ephemeral: bool = False, **_: Any) -> None:
        self.interaction.replies.append(Reply(content, ephemeral))


class FakeInteraction:
    def __init__(
        self,
        client: Any,
        user: FakeUser,
        command_name: str,
        channel: FakeChannel | None = None,
        message: FakeMessage | None = None,
    ) -> None:
        self.client, self.user = client, user
        self.channel = channel or FakeChannel()
        self.channel_id = self.channel.id
        self.command = type("Command", (), {"name": command_name})()
        self.message = message
        self.replies: list[Reply] = []
        self.response = FakeResponse(self)
        self.followup = FakeFollowup(self)


@dataclass
class FakeAttachment:
    filename: str
    data: bytes
    content_type: str | None = "image/png"

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self) -> bytes:
        return self.data


def png_attachment(image, name: str = "face.png") -> FakeAttachment:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return FakeAttachment(name, buffer.getvalue())
