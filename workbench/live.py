"""Live previews in the workbench: a stage runs in a thread while the event function, a
generator, yields each preview as it arrives; progress is reported from the caller's thread."""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from PIL import Image

from core.diffusion.preview import Previewer, PreviewingListener
from core.diffusion.progress import OnStep, StepEvent

T = TypeVar("T")


def live(
    work: Callable[[OnStep], T],
    report: OnStep,
    previewer: Previewer,
    outputs: Callable[[Image.Image], Any] = lambda preview: preview,
) -> Generator[Any, None, T]:
    """Yields `outputs(preview)` while `work(on_step)` runs; returns its result (or raises
    its error), so an event function can `result = yield from live(...)`."""
    updates: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            listener = PreviewingListener(lambda e: updates.put(("step", e)), previewer)
            updates.put(("done", work(listener)))
        except BaseException as exc:  # handed to the caller's thread, raised there
            updates.put(("error", exc))

    threading.Thread(target=run, daemon=True, name="workbench-stage").start()
    while True:
        kind, value = updates.get()
        if kind == "error":
            raise value
        if kind == "done":
            return value
        event: StepEvent = value
        report(event)
        if event.preview is not None:
            yield outputs(Image.open(io.BytesIO(event.preview)).convert("RGB"))
