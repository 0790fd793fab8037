"""What a front end that submits jobs needs (the site, the bot), built once from the settings.

No models here: front ends stay small and never import torch. The face detector they use to
refuse face-less photos early is dlib's, loaded on first use.

Threads: a FrontEnd is built and closed on the event loop; of its parts only `face_analyzer` is
used from other threads (photo checks in `asyncio.to_thread`): it is built once under a lock
and is a pool of dlib copies, safe to share (core/diffusion/faces/backends.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from core.config import Settings
from core.jobs.queue import JobQueue
from core.sharing import once
from core.store.db import Database
from core.store.factory import make_database, make_media
from core.store.media import MediaStore


@dataclass
class FrontEnd:
    settings: Settings
    db: Database
    media: MediaStore
    queue: JobQueue

    @classmethod
    def build(cls, settings: Settings) -> FrontEnd:
        db = make_database(settings)
        return cls(
            settings,
            db,
            make_media(settings),
            JobQueue(settings.redis_url, db),
        )

    @property
    def redis(self) -> Redis:
        return self.queue.redis

    @once
    def face_analyzer(self):
        from core.diffusion.faces.backends import shared_dlib

        return shared_dlib()

    async def close(self) -> None:
        await self.queue.close()
        await self.db.dispose()
