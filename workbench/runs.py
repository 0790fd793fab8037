"""What every run of a visitor's session shares: its place in the one queue (and so its Stop),
its progress bar, and the files its final PNGs are written to (only the last few kept)."""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.diffusion.likeness import Likeness
from core.diffusion.pngmeta import save_png
from core.diffusion.portrait import PortraitResult
from core.diffusion.progress import StepEvent
from workbench.paint_queue import PaintQueue, Place, Ticket
from workbench.sweep_sheet import SweepResult, save_sweep

KEEP_FILES = 8  # final PNGs kept per session: enough for the page to finish reading them


@dataclass
class Run:
    """One run's hooks for the pipeline: progress as "cell k of n · stage step/total", each
    step measured by the queue (for the ETAs of the runs behind), Stop read from its ticket."""

    ticket: Ticket
    line: PaintQueue
    progress: gr.Progress
    cell: str = ""

    def should_stop(self) -> bool:
        return self.ticket.should_stop()

    def on_step(self, event: StepEvent) -> None:
        self.line.step(self.ticket, event.stage)
        place = self.line.place(self.ticket)
        waiting = f"queue 1 of {place.of} · " if place is not None and place.of > 1 else ""
        self.progress((event.step, event.total), desc=f"{waiting}{self.cell}{event.stage}")

    def on_cell(self, k: int, n: int, label: str) -> None:
        self.cell = f"cell {k} of {n} ({label}) · "
        self.progress((k - 1, n), desc=self.cell)


class Runs:
    """Shared by every session's event threads. Safe: the queue guards itself (see
    workbench/paint_queue.py), `next` on the file counter is one atomic step under the GIL,
    and `last` is replaced whole."""

    def __init__(self, folder: Path, line: PaintQueue | None = None) -> None:
        self.folder = folder
        self.line = line or PaintQueue()
        self.last: Run | None = None
        self._numbers = itertools.count(1)  # two sessions' results never share a file number

    def _session(self, request: gr.Request | None) -> str:
        session = getattr(request, "session_hash", None) or "local"
        return re.sub(r"[^A-Za-z0-9_-]", "", session)[:64] or "local"

    @contextlib.contextmanager
    def run(
        self, request: gr.Request | None, progress: gr.Progress, cost: Mapping[str, int]
    ) -> Iterator[Run]:
        """Waits its turn in the queue (its place and ETA shown on the progress bar), then
        paints inside the block. A Stop pressed before this run does not stop it (a fresh
        ticket); one pressed while it waits takes it out of the line (`Cancelled`)."""

        def waiting(place: Place) -> None:
            progress(0.0, desc=place.described)

        with self.line.turn(self._session(request), cost, waiting) as ticket:
            self.last = Run(ticket, self.line, progress)
            yield self.last

    def stop(self, request: gr.Request | None) -> None:
        self.line.stop(self._session(request))

    def final_png(
        self, request: gr.Request | None, result: PortraitResult, likeness: Likeness
    ) -> Path:
        """The final image with its parameters and likeness inside. Each result gets its own
        file (the page may still be reading the previous one); only the last few are kept."""
        path = self._new_file(request, "narcis", ".png")
        save_png(result.final, result.params, path, likeness.to_dict())
        prune(path.parent, "narcis-*.png")
        return path

    def sweep_files(self, request: gr.Request | None, result: SweepResult) -> list[str]:
        """The sweep's contact sheet (a PNG that carries it all) and the same as JSON."""
        png = self._new_file(request, "sweep", ".png")
        save_sweep(result.sheet, result.record, png, png.with_suffix(".json"))
        prune(png.parent, "sweep-*.png")
        prune(png.parent, "sweep-*.json")
        return [str(png), str(png.with_suffix(".json"))]

    def _new_file(self, request: gr.Request | None, prefix: str, suffix: str) -> Path:
        folder = self.folder / self._session(request)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{prefix}-{next(self._numbers):06d}{suffix}"


def prune(folder: Path, pattern: str) -> None:
    """Only the newest `KEEP_FILES` of a kind stay (the numbers sort by age)."""
    for old in sorted(folder.glob(pattern))[:-KEEP_FILES]:
        old.unlink(missing_ok=True)
