"""Progress and cancellation hooks, so a queue or UI can watch a pipeline that knows neither."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.errors import Cancelled

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class StepEvent:
    stage: str  # "composition" or "identity"
    step: int  # 1-based
    total: int
    preview: bytes | None = None  # a small WebP of the predicted clean image, when asked for


OnStep = Callable[[StepEvent], None]
ShouldStop = Callable[[], bool]
# The predicted clean latents of a step, computed only when a preview is wanted.
CleanLatents = Callable[[], "torch.Tensor"]


@runtime_checkable
class PreviewListener(Protocol):
    """An `OnStep` that also wants previews (core/diffusion/preview.py's PreviewingListener)."""

    def __call__(self, event: StepEvent) -> None: ...

    def wants_preview(self, step: int, total: int) -> bool: ...

    def preview(self, event: StepEvent, clean: CleanLatents) -> StepEvent: ...


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

    def report(self, step: int, clean: CleanLatents | None = None) -> None:
        if self.on_step is None:
            return
        event = StepEvent(self.stage, step, self.total)
        if (
            clean is not None
            and isinstance(self.on_step, PreviewListener)
            and self.on_step.wants_preview(step, self.total)
        ):
            event = self.on_step.preview(event, clean)
        self.on_step(event)
