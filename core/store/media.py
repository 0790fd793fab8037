"""Media storage: a local folder by default, any S3-compatible store in production.

Keys are plain relative paths ("faces/ab/abcd….png", "portraits/<job id>/final.png").
Writes are atomic in both backends: a local file appears whole through a rename, and an S3
PUT is all-or-nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from pathlib import Path
from typing import Protocol

from core.errors import UserInputError
from core.files import write_atomic

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class MediaNotFound(KeyError):
    pass


class MediaStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...
    async def delete(self, key: str) -> None: ...
    async def keys(self, prefix: str) -> list[str]: ...


def check_key(key: str) -> str:
    """Refuse anything but relative, dot-free paths: no traversal out of the store."""
    if not _KEY.match(key) or ".." in key.split("/"):
        raise UserInputError(f"invalid media key {key!r}")
    return key


def content_key(prefix: str, data: bytes, extension: str) -> str:
    """A content-addressed key: the same bytes always land at the same key."""
    digest = hashlib.sha256(data).hexdigest()
    return f"{prefix}/{digest[:2]}/{digest}.{extension}"


class LocalMedia:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(write_atomic, self.path(key), lambda handle: handle.write(data))

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise MediaNotFound(key) from None

    async def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    async def delete(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir():
            await asyncio.to_thread(shutil.rmtree, path)
        else:
            path.unlink(missing_ok=True)

    async def keys(self, prefix: str) -> list[str]:
        base = self.root / check_key(prefix.rstrip("/"))
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )


class ObjectMedia:
    """S3 or anything that speaks its protocol (MinIO, R2, Ceph, moto), through obstore."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
    ) -> None:
        from obstore.store import S3Store

        options = {"region": region}
        if endpoint:
            options |= {
                "endpoint": endpoint,
                "allow_http": endpoint.startswith("http://"),
                "virtual_hosted_style_request": False,
            }
        if access_key and secret_key:
            options |= {"access_key_id": access_key, "secret_access_key": secret_key}
        self._store = S3Store(bucket, prefix=prefix or None, **options)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        import obstore

        await obstore.put_async(
            self._store, check_key(key), data, attributes={"Content-Type": content_type}
        )

    async def get(self, key: str) -> bytes:
        import obstore

        try:
            result = await obstore.get_async(self._store, check_key(key))
        except FileNotFoundError:
            raise MediaNotFound(key) from None
        return bytes(await result.bytes_async())

    async def exists(self, key: str) -> bool:
        import obstore

        try:
            await obstore.head_async(self._store, check_key(key))
        except FileNotFoundError:
            return False
        return True

    async def delete(self, key: str) -> None:
        import obstore

        for found in await self.keys(key) or [check_key(key)]:
            await obstore.delete_async(self._store, found)

    async def keys(self, prefix: str) -> list[str]:
        import obstore

        found: list[str] = []
        async for batch in obstore.list(self._store, prefix=check_key(prefix.rstrip("/"))):
            found += [item["path"] for item in batch]
        return sorted(found)
