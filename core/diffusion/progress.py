"""Progress and cancellation hooks, so a queue or UI can watch a pipeline that knows neither."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core.errors import Cancelled


@dataclass(frozen=True)
class StepEvent:
    stage: str  # "composition" or "identity"
    step: int  # 1-based
    total: int


OnStep = Callable[[StepEvent], None]
ShouldStop = Callable[[], bool]


def never() -> bool:
    return False


@dataclass
class Progress:
    """Reports each finished step and raises `Cancelled` between steps when asked to stop."""

    stage: str
    total: int
    on_step: OnStep | None = None
    should_stop: ShouldStop = never

    def check(self) -> None:
        if self.should_stop():
            raise Cancelled(f"{self.stage} cancelled")

    def report(self, step: int) -> None:
        if self.on_step is not None:
            self.on_step(StepEvent(self.stage, step, self.total))
