"""`once` builds a value once whoever asks first; `Pool` lends each copy to one thread at a time."""

from __future__ import annotations

import threading
import time

import pytest

from core.sharing import Pool, once
from tests.threads import overlapped


class Loaded:
    def __init__(self) -> None:
        self.builds = 0

    @once
    def model(self) -> object:
        self.builds += 1
        time.sleep(0.05)  # a slow load: every thread arrives while the first one builds
        return object()


def test_once_builds_one_value_for_sixteen_first_callers() -> None:
    loaded = Loaded()
    overlapped([lambda: loaded.model], lambda a, b: a is b, rounds=16, threads=16)
    assert loaded.builds == 1


def test_once_is_per_instance() -> None:
    a, b = Loaded(), Loaded()
    assert a.model is not b.model
    assert (a.builds, b.builds) == (1, 1)


class Exclusive:
    """Fails loudly when two threads are inside `use` at once."""

    def __init__(self) -> None:
        self.inside = threading.Lock()

    def use(self) -> int:
        if not self.inside.acquire(blocking=False):
            raise AssertionError("two threads used one copy at once")
        try:
            time.sleep(0.002)
            return 1
        finally:
            self.inside.release()


def test_a_pool_lends_each_copy_to_one_thread_and_makes_at_most_size() -> None:
    pool = Pool(Exclusive, size=3)

    def call() -> int:
        with pool.borrow() as item:
            return item.use()

    assert overlapped([call], lambda a, b: a == b, rounds=200, threads=8) == 200
    assert 1 <= pool.made <= 3


def test_a_copy_that_fails_to_load_gives_its_slot_back() -> None:
    pool = Pool(make_failing_second(), size=2)
    with pool.borrow(), pytest.raises(RuntimeError, match="disk full"), pool.borrow():
        pass
    with pool.borrow(), pool.borrow():
        pass  # both slots usable again: the failed load did not keep one
    assert pool.made == 2


def make_failing_second():
    results = iter([None, RuntimeError("disk full"), None])

    def make() -> Exclusive:
        result = next(results)
        if result is not None:
            raise result
        return Exclusive()

    return make


def test_a_pool_needs_a_size() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Pool(Exclusive, size=0)
