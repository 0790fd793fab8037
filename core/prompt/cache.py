"""Caching agent results: Redis when configured, an in-process LRU otherwise."""

from __future__ import annotations

import threading
from typing import Protocol

from cachetools import LRUCache

TTL_SECONDS = 30 * 24 * 3600


class ResultCache(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...


class MemoryCache:
    """Guarded: an LRU reorders itself on every read, so even `get` needs the lock."""

    def __init__(self, size: int = 512) -> None:
        self._items: LRUCache[str, str] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._items.get(key)

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._items[key] = value


class RedisCache:
    """Thread-safe: redis-py's client takes a connection from its pool for each command."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> str | None:
        value = self._redis.get(key)
        return None if value is None else value.decode()

    def set(self, key: str, value: str) -> None:
        self._redis.set(key, value, ex=TTL_SECONDS)

    def reachable(self) -> bool:
        import redis

        try:
            return bool(self._redis.ping())
        except redis.RedisError:
            return False


def make_cache(redis_url: str | None) -> ResultCache:
    """Redis at `redis_url` if it answers, otherwise an in-process LRU."""
    if redis_url:
        cache = RedisCache(redis_url)
        if cache.reachable():
            return cache
    return MemoryCache()
