"""Looking portraits up by the id in a URL: a malformed or unknown id is a plain 404."""

from __future__ import annotations

import uuid

from litestar.exceptions import NotFoundException

from core.store.models import Portrait
from photowall.services import Services


def parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFoundException() from None


async def find_portrait(services: Services, portrait_id: str) -> Portrait:
    async with services.db.session() as session:
        portrait = await session.get(Portrait, parse_id(portrait_id))
    if portrait is None:
        raise NotFoundException()
    return portrait
