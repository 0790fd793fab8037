"""The reference face cache under workers racing on one photo: every attempt that analysed it
writes its analysis at once, from its own engine (as separate worker processes do), and the
cache ends with one row that reads back whole. No attempt fails for it."""

from __future__ import annotations

import asyncio
import logging
import uuid
from types import SimpleNamespace

from sqlalchemy import func, select

from core.diffusion.faces.analysis import FaceChoice, face_from_box
from core.jobs.run import JobRun
from core.store.db import Database
from core.store.models import ReferenceFace

ATTEMPTS, ROUNDS = 8, 5


def test_attempts_racing_to_cache_one_photo_leave_one_row(database_url, caplog) -> None:
    choice = FaceChoice(face_from_box((0.3, 0.2, 0.7, 0.6), (512, 512)), 1)

    async def one_round(key: str) -> tuple[int, list]:
        engines = [Database(database_url) for _ in range(ATTEMPTS)]
        attempts = [JobRun(SimpleNamespace(db=db), None, str(uuid.uuid4())) for db in engines]
        try:
            await asyncio.gather(*(a.cache_face(key, "dlib", choice) for a in attempts))
            read = await asyncio.gather(*(a.cached_face(key, "dlib") for a in attempts))
            async with engines[0].session() as session:
                rows = await session.scalar(
                    select(func.count()).where(ReferenceFace.storage_key == key)
                )
            return rows, read
        finally:
            for db in engines:
                await db.dispose()

    caplog.set_level(logging.WARNING)
    for _ in range(ROUNDS):
        rows, read = asyncio.run(one_round(f"references/{uuid.uuid4().hex}.png"))
        assert rows == 1
        assert all(r is not None and r.face.box == choice.face.box for r in read), read
    assert "Traceback" not in caplog.text and "not answering" not in caplog.text, caplog.text
