"""Building the stores a process needs from its settings."""

from __future__ import annotations

from core.config import Settings
from core.store.db import Database
from core.store.media import LocalMedia, MediaStore, ObjectMedia


def make_media(settings: Settings) -> MediaStore:
    if settings.s3_bucket:
        return ObjectMedia(
            settings.s3_bucket,
            endpoint=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key.get_secret_value()
            if settings.s3_access_key
            else None,
            secret_key=settings.s3_secret_key.get_secret_value()
            if settings.s3_secret_key
            else None,
        )
    return LocalMedia(settings.media_path)


def make_database(settings: Settings) -> Database:
    return Database(settings.database)
