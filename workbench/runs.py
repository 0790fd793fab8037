"""What every run of a visitor's session shares: its Stop flag, its progress bar, and the one
file its final PNG is written to (overwritten each time: no temporary folders pile up)."""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.diffusion.likeness import Likeness
from core.diffusion.pngmeta import save_png
from core.diffusion.portrait import PortraitResult
from core.diffusion.progress import StepEvent

KEEP_FILES = 8  # final PNGs kept per session: enough for the page to finish reading them


@dataclass
class Run:
    """One run's hooks for the pipeline: progress as "cell k of n · stage step/total"."""

    stop: threading.Event
    progress: gr.Progress
    cell: str = ""

    def should_stop(self) -> bool:
        return self.stop.is_set()

    def on_step(self, event: StepEvent) -> None:
        self.progress((event.step, event.total), desc=f"{self.cell}{event.stage}")

    def on_cell(self, k: int, n: int, label: str) -> None:
        self.cell = f"cell {k} of {n} ({label}) · "
        self.progress((k - 1, n), desc=self.cell)


class Runs:
    """Shared by every session's event threads. Safe: `setdefault` on the flags and `next` on
    the file counter are each one atomic step under the GIL, and `last` is replaced whole."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._stops: dict[str, threading.Event] = {}
        self.last: Run | None = None
        self._numbers = itertools.count(1)  # two sessions' results never share a file number

    def _session(self, request: gr.Request | None) -> str:
        session = getattr(request, "session_hash", None) or "local"
        return re.sub(r"[^A-Za-z0-9_-]", "", session)[:64] or "local"

    def _flag(self, request: gr.Request | None) -> threading.Event:
        return self._stops.setdefault(self._session(request), threading.Event())

    @contextlib.contextmanager
    def run(self, request: gr.Request | None, progress: gr.Progress) -> Iterator[Run]:
        flag = self._flag(request)
        flag.clear()  # a Stop pressed before this run does not stop it
        self.last = Run(flag, progress)
        yield self.last

    def stop(self, request: gr.Request | None) -> None:
        self._flag(request).set()

    def final_png(
        self, request: gr.Request | None, result: PortraitResult, likeness: Likeness
    ) -> Path:
        """The final image with its parameters and likeness inside. Each result gets its own
        file (the page may still be reading the previous one); only the last few are kept."""
        folder = self.folder / self._session(request)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"narcis-{next(self._numbers):06d}.png"
        save_png(result.final, result.params, path, likeness.to_dict())
        for old in sorted(folder.glob("narcis-*.png"))[:-KEEP_FILES]:
            old.unlink(missing_ok=True)
        return path
