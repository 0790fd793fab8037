"""The Litestar test client plus the steps a browser would take (CSRF token, forms)."""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass

from litestar.testing import TestClient
from PIL import Image

from core.config import Settings
from core.store.db import Database
from core.store.factory import make_media

_TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class SiteClient:
    http: TestClient
    settings: Settings

    def csrf(self, page: str = "/make") -> str:
        return _TOKEN.search(self.http.get(page).text).group(1)

    def make(
        self,
        photos: list[tuple[str, bytes]],
        idea: str = "byzantine emperor",
        style: str = "none",
        restyle: bool = False,
        token: str | None = None,
        share: bool = False,
    ):
        data = {"idea": idea, "style": style, "_csrf_token": token or self.csrf()}
        if restyle:
            data["restyle"] = "true"
        if share:
            data["share"] = "true"
        files = [
            ("photos", (name, content, "application/octet-stream")) for name, content in photos
        ]
        return self.http.post("/make", data=data, files=files, follow_redirects=False)

    def post_form(self, path: str, data: dict, page: str):
        return self.http.post(
            path, data={**data, "_csrf_token": self.csrf(page)}, follow_redirects=False
        )

    def run(self, work):
        async def go():
            db = Database(self.settings.database)
            try:
                return await work(db, make_media(self.settings))
            finally:
                await db.dispose()

        return asyncio.run(go())
