"""Sharing objects between threads: the two shapes the rest of the code uses.

Every object reached from more than one thread is immutable, guarded, or per-thread, and its
class says which. These two cover the cases a lock alone does badly:

- `once`: a property built exactly once per instance, whichever thread asks first.
  `functools.cached_property` has no lock from Python 3.12 on (two threads each build the
  value: two model loads), and on 3.11 its lock is one per class, not per instance.
- `Pool`: a native object that is not thread-safe (dlib's models) used by many threads: up to
  `size` private copies, each used by one thread at a time. One lock would serialise every
  caller; a copy per thread would grow with the thread pool (dlib's copy is ~100 MB).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class once(Generic[T]):
    """Like `functools.cached_property`, with a per-instance lock around the first build."""

    def __init__(self, build: Callable[[Any], T]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.name = build.__name__
        self.guard = threading.Lock()  # only guards the creation of per-instance locks

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance, owner):
        if instance is None:
            return self
        values = instance.__dict__
        if self.name in values:  # the fast path: built already, no lock
            return values[self.name]
        with self._lock_for(values):
            if self.name not in values:
                values[self.name] = self.build(instance)
            return values[self.name]

    def _lock_for(self, values: dict) -> threading.Lock:
        key = f"_once_lock_{self.name}"
        with self.guard:
            return values.setdefault(key, threading.Lock())


class Pool(Generic[T]):
    """Up to `size` objects made by `make`, each lent to one thread at a time.

    Copies are made only when every existing one is lent out, so a quiet process holds one.
    Safe to share: the free list is a thread-safe queue and the semaphore bounds the copies.
    """

    def __init__(self, make: Callable[[], T], size: int) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one object, not {size}")
        self._make, self.size = make, size
        self._slots = threading.BoundedSemaphore(size)
        self._free: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._free.put(make())  # the first copy now: a broken model fails at load, not later
        self._counting = threading.Lock()
        self.made = 1

    @contextmanager
    def borrow(self) -> Iterator[T]:
        with self._slots:
            try:
                item = self._free.get_nowait()
            except queue.Empty:
                # Holding a slot with nothing free means fewer than `size` copies exist.
                item = self._make()
                with self._counting:
                    self.made += 1
            try:
                yield item
            finally:
                self._free.put(item)
