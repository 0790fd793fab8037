"""The workbench's one line to the models: runs paint one at a time, in the order they asked.

Before this, paintings waited on Gradio's queue (one concurrency lane) and on the pipeline's
`SDXLComponents.in_use` lock: neither says where a run stands, and Stop could not reach a run
that had not started. Here every run (stage 1, stage 2, a sweep) takes a `Ticket`; a waiting
run is told its place and when it should start, from step times measured on this machine; a
Stop takes a waiting run out of the line before it paints anything.

Safe to share between every session's event threads: all state (the line, the measured step
times) is read and changed only while holding one `threading.Condition`; waiters sleep on it
and are woken whenever the line changes. A `Ticket`'s stop flag is a `threading.Event`, so the
painting thread may read it without the lock. The line is bounded (in all and per session), so
no visitor can make it hold more than `max_waiting` runs.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from core.errors import Cancelled, CapacityError

MAX_WAITING = 12  # runs in line, the painting one included
PER_SESSION = 3  # one tab: stage 1, then stage 2, then a sweep, queued in a row
SMOOTHING = 0.3  # weight of the newest step time in the running average


class LeftQueue(Cancelled):
    """A run was stopped while it waited: it left the line and painted nothing."""


@dataclass(eq=False)  # a ticket is itself: two runs with equal costs are still two
class Ticket:
    """One run's place in line: who asked, how many UNet steps of each stage it will run."""

    owner: str
    cost: Mapping[str, int]
    number: int
    stop: threading.Event = field(default_factory=threading.Event)
    done: dict[str, int] = field(default_factory=dict)  # steps run so far, per stage

    def should_stop(self) -> bool:
        return self.stop.is_set()


@dataclass(frozen=True)
class Place:
    """Where a ticket stands: `position` 1 is painting now, 2 is next, …; `of` runs in all."""

    position: int
    of: int
    eta_s: float | None  # seconds until it starts (for the painting one: until it ends)

    @property
    def described(self) -> str:
        """What a waiting operator reads: "queue 2 of 2 · starts in about 6 s"."""
        when = "no step measured yet" if self.eta_s is None else f"about {self.eta_s:.0f} s"
        if self.position == 1:
            return f"queue 1 of {self.of} · painting, {when} left"
        return f"queue {self.position} of {self.of} · starts in {when}"


class PaintQueue:
    """A first-come line of tickets; the head paints, the rest wait (see the module docstring
    for why it is safe to share)."""

    def __init__(
        self,
        max_waiting: int = MAX_WAITING,
        per_session: int = PER_SESSION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_waiting, self.per_session, self.clock = max_waiting, per_session, clock
        self._changed = threading.Condition()
        self._line: list[Ticket] = []
        self._numbers = itertools.count(1)
        self._step_s: dict[str, float] = {}  # measured seconds per UNet step, per stage
        self._last_step: float | None = None  # when the head last reported (or started)

    # 1. Joining: refused with a clear message when the line is full
    def join(self, owner: str, cost: Mapping[str, int]) -> Ticket:
        with self._changed:
            if len(self._line) >= self.max_waiting:
                raise CapacityError(
                    f"the workbench queue is full ({self.max_waiting} runs); try again soon"
                )
            if sum(t.owner == owner for t in self._line) >= self.per_session:
                raise CapacityError(
                    f"this tab already has {self.per_session} runs in the queue; "
                    "wait for one or press Stop"
                )
            ticket = Ticket(owner, dict(cost), next(self._numbers))
            self._line.append(ticket)
            if len(self._line) == 1:
                self._last_step = self.clock()
            self._changed.notify_all()
            return ticket

    # 2. Waiting: told the place whenever it changes (and every `tick` s, for the ETA)
    def wait_turn(
        self, ticket: Ticket, on_place: Callable[[Place], None] | None = None, tick: float = 0.5
    ) -> None:
        """Returns when `ticket` heads the line; raises `Cancelled` if it was stopped first
        (it is then out of the line)."""
        shown = ""  # what the operator reads: reported again only when it changes
        with self._changed:
            while True:
                if ticket.stop.is_set():
                    self._remove(ticket)
                    raise LeftQueue("it left the queue while waiting; nothing was painted")
                if ticket not in self._line:
                    raise LeftQueue("it is no longer in the queue; nothing was painted")
                place = self._place(ticket)
                if place.position == 1:
                    return
                if on_place is not None and place.described != shown:
                    shown = place.described
                    self._changed.release()  # report without the lock: it may be slow
                    try:
                        on_place(place)
                    finally:
                        self._changed.acquire()
                    continue  # the line may have moved while we reported
                self._changed.wait(tick)

    # 3. Painting: each step measured, for everyone's ETA
    def step(self, ticket: Ticket, stage: str) -> None:
        with self._changed:
            now = self.clock()
            if self._line and self._line[0] is ticket and self._last_step is not None:
                seconds = now - self._last_step
                old = self._step_s.get(stage)
                self._step_s[stage] = (
                    seconds if old is None else (1 - SMOOTHING) * old + SMOOTHING * seconds
                )
            self._last_step = now
            ticket.done[stage] = ticket.done.get(stage, 0) + 1

    # 4. Leaving: finished, failed or stopped
    def leave(self, ticket: Ticket) -> None:
        with self._changed:
            self._remove(ticket)

    def stop(self, owner: str) -> int:
        """Stops every run of `owner`: a waiting one leaves the line at once, the painting one
        stops at its next step. Returns how many were stopped."""
        with self._changed:
            mine = [t for t in self._line if t.owner == owner]
            for ticket in mine:
                ticket.stop.set()
                if ticket is not self._line[0]:
                    self._line.remove(ticket)
            self._changed.notify_all()
            return len(mine)

    @contextlib.contextmanager
    def turn(
        self, owner: str, cost: Mapping[str, int], on_place: Callable[[Place], None] | None = None
    ) -> Iterator[Ticket]:
        """Join, wait for the turn, paint inside the block, leave whatever happens."""
        ticket = self.join(owner, cost)
        try:
            self.wait_turn(ticket, on_place)
            yield ticket
        finally:
            self.leave(ticket)

    # 5. Reading
    def place(self, ticket: Ticket) -> Place | None:
        with self._changed:
            return self._place(ticket) if ticket in self._line else None

    def owners(self) -> list[str]:
        """Who is in line, head first."""
        with self._changed:
            return [t.owner for t in self._line]

    def step_seconds(self) -> dict[str, float]:
        with self._changed:
            return dict(self._step_s)

    # Helpers, called holding the lock
    def _remove(self, ticket: Ticket) -> None:
        if ticket in self._line:
            was_head = self._line[0] is ticket
            self._line.remove(ticket)
            if was_head:
                self._last_step = self.clock()  # the next head starts now
            self._changed.notify_all()

    def _place(self, ticket: Ticket) -> Place:
        index = self._line.index(ticket)
        ahead = self._line[: index + 1] if index == 0 else self._line[:index]
        return Place(index + 1, len(self._line), self._seconds(ahead))

    def _seconds(self, tickets: list[Ticket]) -> float | None:
        """The measured time the `tickets` still need; None before any step was measured."""
        if not self._step_s:
            return None
        fallback = sum(self._step_s.values()) / len(self._step_s)
        total = 0.0
        for ticket in tickets:
            for stage, steps in ticket.cost.items():
                left = max(0, steps - ticket.done.get(stage, 0))
                total += left * self._step_s.get(stage, fallback)
        if tickets and self._line and tickets[0] is self._line[0] and self._last_step is not None:
            total = max(0.0, total - (self.clock() - self._last_step))  # the step under way
        return total
