"""Stand-ins for Discord's servers, and nothing else: interactions, channels, messages and
attachments that record what the bot sends. Everything behind them is real."""

from __future__ import annotations

import io
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import discord

_ids = itertools.count(1000)


@dataclass
class FakeRole:
    name: str
    id: int = 0


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

    edited_at: list[float] = field(default_factory=list)

    async def edit(
        self, content: str | None = None, attachments: list | None = None, **_: Any
    ) -> FakeMessage:
        self.content = content
        self.edits.append(content)
        self.edited_at.append(time.monotonic())
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
    refuse_files: bool = False  # like a channel where the bot may not attach files

    def get_partial_message(self, message_id: int) -> FakeMessage:
        found = [m for m in self.messages if m.id == message_id]
        return found[0] if found else FakeMessage(self, id=message_id)

    def edits(self) -> list[float]:
        return sorted(t for m in self.messages for t in m.edited_at)

    async def send(
        self,
        content: str | None = None,
        *,
        file: discord.File | None = None,
        view: Any = None,
        **_: Any,
    ) -> FakeMessage:
        if file is not None and self.refuse_files:
            response = type("Response", (), {"status": 403, "reason": "Forbidden"})()
            raise discord.Forbidden(response, "Missing Permissions")
        message = FakeMessage(self, content, file, view)
        self.messages.append(message)
        return message


@dataclass
class Reply:
    content: str | None
    ephemeral: bool
    view: Any = None
    at: float = field(default_factory=time.monotonic)


class FakeResponse:
    """The first answer to an interaction: a message, or a defer (public or private)."""

    def __init__(self, interaction: FakeInteraction) -> None:
        self.interaction, self._done = interaction, False
        self.deferred_ephemeral: bool | None = None
        self.answered_at: float | None = None

    def is_done(self) -> bool:
        return self._done

    def _answer(self) -> None:
        if self._done:
            raise discord.InteractionResponded(self.interaction)
        self._done, self.answered_at = True, time.monotonic()

    async def defer(self, *, ephemeral: bool = False, **_: Any) -> None:
        self._answer()
        self.deferred_ephemeral = ephemeral

    async def send_message(
        self, content: str | None = None, *, ephemeral: bool = False, view: Any = None, **_: Any
    ) -> None:
        self._answer()
        self.interaction.replies.append(Reply(content, ephemeral, view))


class FakeFollowup:
    """Like Discord: the first follow-up after a defer replaces the "thinking…" message and so
    is as private, or as public, as the defer was, whatever `ephemeral` says."""

    def __init__(self, interaction: FakeInteraction) -> None:
        self.interaction, self.sent = interaction, 0

    async def send(
        self, content: str | None = None, *, ephemeral: bool = False, view: Any = None, **_: Any
    ) -> None:
        deferred = self.interaction.response.deferred_ephemeral
        if self.sent == 0 and deferred is not None:
            ephemeral = deferred
        self.sent += 1
        self.interaction.replies.append(Reply(content, ephemeral, view))


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
        self.created_at = time.monotonic()
        self.replies: list[Reply] = []
        self.response = FakeResponse(self)
        self.followup = FakeFollowup(self)

    @property
    def first_response_s(self) -> float:
        return self.response.answered_at - self.created_at


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
