"""The workbench's paint queue: one painting at a time in the order asked, places and ETAs
from measured step times, Stop on a waiting run, bounded; and the same from 24 threads."""

from __future__ import annotations

import random
import threading
import time

import pytest

from core.errors import Cancelled, CapacityError
from workbench.paint_queue import PaintQueue, Place


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_places_and_an_eta_from_measured_steps() -> None:
    clock = Clock()
    line = PaintQueue(clock=clock)
    first = line.join("a", {"identity": 10})
    second = line.join("b", {"composition": 4, "identity": 10})
    third = line.join("c", {"identity": 2})
    line.wait_turn(first)  # the head returns at once
    assert line.place(second) == Place(2, 3, None)  # no step measured yet: no guess
    assert "no step measured yet" in line.place(second).described
    for _ in range(4):  # the head paints 4 steps of 0.5 s
        clock.now += 0.5
        line.step(first, "identity")
    assert line.step_seconds() == {"identity": 0.5}
    assert line.place(first).eta_s == pytest.approx(3.0)  # 6 steps left
    assert line.place(second) == Place(2, 3, pytest.approx(3.0))
    # behind: the head's 6 steps and b's 14 (its stage-1 steps at the only rate known)
    assert line.place(third).eta_s == pytest.approx(3.0 + 7.0)
    assert line.place(third).described == "queue 3 of 3 · starts in about 10 s"
    clock.now += 0.25  # a step under way counts as begun
    assert line.place(second).eta_s == pytest.approx(2.75)
    line.leave(first)
    assert line.place(second).position == 1 and line.place(third) == Place(2, 2, 7.0)  # b: 14 steps


class Ticking(Clock):
    """A clock that moves a millisecond at every reading, as a real one would."""

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_stop_takes_a_waiting_run_out_of_line_and_flags_the_painting_one() -> None:
    clock = Ticking()
    line = PaintQueue(clock=clock)
    painting = line.join("a", {"identity": 3})
    waiting = line.join("b", {"identity": 3})
    behind = line.join("c", {"identity": 3})
    places: list[Place] = []
    outcome: list[str] = []
    line.wait_turn(painting)
    clock.now += 10
    line.step(painting, "identity")  # 10 s a step: the ETA (20 s) runs down with the clock

    def wait() -> None:
        try:
            line.wait_turn(waiting, places.append, tick=0.05)
            outcome.append("painted")
        except Cancelled as exc:
            outcome.append(str(exc))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    assert line.stop("b") == 1
    waiter.join(2)
    assert outcome == ["it left the queue while waiting; nothing was painted"]
    assert places[0].position == 2 and line.owners() == ["a", "c"]
    assert len(places) <= 3  # told when what it reads changes, not at every tick
    assert line.place(behind).position == 2  # moved up
    assert line.stop("a") == 1  # the painting run: flagged, still in line until it ends
    assert painting.should_stop() and line.owners() == ["a", "c"]
    line.leave(painting)
    line.wait_turn(behind)
    assert not behind.should_stop()  # a Stop for others never reaches it


def test_the_line_is_bounded_in_all_and_per_session() -> None:
    line = PaintQueue(max_waiting=4, per_session=2)
    line.join("a", {"identity": 1})
    line.join("a", {"identity": 1})
    with pytest.raises(CapacityError, match="this tab already has 2 runs in the queue"):
        line.join("a", {"identity": 1})
    line.join("b", {"identity": 1})
    line.join("c", {"identity": 1})
    with pytest.raises(CapacityError, match=r"the workbench queue is full \(4 runs\)"):
        line.join("d", {"identity": 1})


def test_many_threads_paint_one_at_a_time_in_order_and_stopped_ones_never_paint() -> None:
    """24 sessions join from their own threads (in a known order, each after the last has
    joined) while the first holds the models; 6 are stopped while waiting. The rest paint
    alone, first come first served."""
    line = PaintQueue(max_waiting=24)
    joined = [threading.Event() for _ in range(24)]
    release = threading.Event()
    stoppable = set(random.Random(7).sample(range(1, 24), 6))
    inside, most, painted, stopped = [0], [0], [], []
    guard = threading.Lock()

    def paint(n: int, ticket) -> None:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        if n == 0:
            release.wait(5)  # everyone else is in line behind it
        for _ in range(2):
            time.sleep(0.002)
            line.step(ticket, "identity")
        with guard:
            inside[0] -= 1
            painted.append(n)

    def session(n: int) -> None:
        if n:
            joined[n - 1].wait(5)
        ticket = line.join(f"s{n}", {"identity": 2})
        joined[n].set()
        try:
            line.wait_turn(ticket, tick=0.01)
            paint(n, ticket)
        except Cancelled:
            stopped.append(n)
        finally:
            line.leave(ticket)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    assert joined[-1].wait(5)
    assert len(line.owners()) == 24
    for n in stoppable:
        assert line.stop(f"s{n}") == 1
    release.set()
    for thread in threads:
        thread.join(10)
    assert most[0] == 1  # never two paintings at once
    assert sorted(stopped) == sorted(stoppable)  # each stopped one left without painting …
    assert painted == sorted(set(range(24)) - stoppable)  # … the rest painted in join order
    assert line.owners() == [] and line.step_seconds()["identity"] > 0
