"""A burst of work spread over event-loop turns, a batch per turn.

10,000 clients can leave in the same moment (a proxy restarting drops every open wall). Done
in the turn it arrives, the work of their leaving holds the loop for hundreds of milliseconds,
and every other request waits behind it. Handled a batch per turn, it shares the loop: each
turn also runs whatever else is ready.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerTurn(Generic[T]):
    """`handle` applied to each added item, in order, at most `batch` items per loop turn.

    Not thread-safe: only the event loop's thread adds, and the loop runs the batches."""

    def __init__(self, handle: Callable[[T], object], batch: int) -> None:
        self._handle, self._batch = handle, batch
        self._queue: deque[T] = deque()
        self._scheduled = False

    def add(self, item: T) -> None:
        self._queue.append(item)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run_some)

    def __len__(self) -> int:
        return len(self._queue)

    def _run_some(self) -> None:
        try:
            for _ in range(min(self._batch, len(self._queue))):
                self._handle(self._queue.popleft())
        finally:
            self._scheduled = bool(self._queue)
            if self._scheduled:  # the rest on the next turn, after other work has had its go
                asyncio.get_running_loop().call_soon(self._run_some)
