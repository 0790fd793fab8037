"""Portrait files under search-friendly names, cached forever (their content never changes).

Only finished, visible portraits are served; reference photos never are.
"""

from __future__ import annotations

import re

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.response import Response

from core.store.media import MediaNotFound
from photowall.portraits import find_portrait
from photowall.services import Services
from photowall.wall import slugify

_NAME = re.compile(r"^(?P<slug>[a-z0-9-]+?)(?:-(?P<width>\d{2,4}))?\.(?P<ext>png|avif|webp|jpg)$")
TYPES = {"png": "image/png", "avif": "image/avif", "webp": "image/webp", "jpg": "image/jpeg"}
IMMUTABLE = "public, max-age=31536000, immutable"


@get("/img/{portrait_id:str}/{name:str}", name="image")
async def image(
    services: Services, portrait_id: str, name: str, download: bool = False
) -> Response:
    match = _NAME.match(name)
    if match is None:
        raise NotFoundException()
    portrait = await find_portrait(services, portrait_id)
    if portrait.hidden or portrait.status != "done":
        raise NotFoundException()
    pid = portrait.id
    width, ext = match["width"], match["ext"]
    key = (portrait.media or {}).get(f"{width}.{ext}" if width else "final")
    if key is None or (not width and ext != "png"):
        raise NotFoundException()
    try:  # the keys the finishing attempt stored (portraits/<id>/<attempt>/…)
        data = await services.media.get(key)
    except MediaNotFound:
        raise NotFoundException() from None
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{pid}-{width or "full"}-{ext}"'}
    if download:
        headers["Content-Disposition"] = (
            f'attachment; filename="{slugify(portrait.idea)}-narcis.{ext}"'
        )
    return Response(data, media_type=TYPES[ext], headers=headers)
