"""Upload checks, off the event loop and bounded: decoding, cleaning and face detection run in
a small pool of worker processes, each request within a CPU-time budget.

- Processes, not threads: dlib's detector holds the GIL, and a thread running it stalled every
  other visitor (4 s on a 12 MP photo); a process does not touch the server's loop at all.
- Bounded: a photo is decoded at most STORED_SIDE long (JPEGs at a reduced DCT scale), the
  face is looked for on a copy of at most DETECT_PIXELS, and a request whose photos take more
  than BUDGET_S of CPU time is refused with a clear message.
- The workers run at a lower priority, so the server answers first when the CPU is short.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np
from PIL import Image

from core.diffusion.faces.backends import DlibAnalyzer
from core.errors import UserInputError
from core.photos import clean_png, load_photo

STORED_SIDE = 2048  # what PhotoMaker needs is a 224² face crop; this is plenty
DETECT_PIXELS = 1_000_000
BUDGET_S = 10.0  # CPU seconds per request, all its photos together
WORKERS = 2

_detector = None  # one per pool process, which runs one check at a time: never shared


class OverBudget(Exception):
    pass


def _start_worker() -> None:
    """Only dlib's HOG detector: whether there is a face is all the check needs (the
    landmarks and the embedding are the worker's job, and cost four times as much)."""
    global _detector
    os.nice(10)
    import dlib

    _detector = dlib.get_frontal_face_detector()


def _over_budget(_signum, _frame) -> None:
    raise OverBudget()


def check_photos(photos: list[tuple[bytes, str]], budget_s: float) -> list[bytes]:
    """In a worker: each photo decoded, cleaned (PNG, no metadata) and shown to hold a face."""
    signal.signal(signal.SIGPROF, _over_budget)
    signal.setitimer(signal.ITIMER_PROF, budget_s)  # counts this process's CPU time only
    try:
        return [_check(data, name) for data, name in photos]
    except OverBudget:
        raise UserInputError(
            "these photos take too long to check; send smaller ones (12 MP is plenty)"
        ) from None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


def _check(data: bytes, name: str) -> bytes:
    image = load_photo(data, name, max_side=STORED_SIDE)
    pixels = np.asarray(downscaled(image).convert("L"))
    _, scores, _ = _detector.run(pixels, 1, 0.0)
    if not any(score >= DlibAnalyzer.min_score for score in scores):
        raise UserInputError(
            f"no face found in {name}; use a photo where the face is clearly visible"
        )
    return clean_png(image)


def downscaled(image: Image.Image, pixels: int = DETECT_PIXELS) -> Image.Image:
    scale = math.sqrt(pixels / (image.width * image.height))
    if scale >= 1:
        return image
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


class PhotoChecker:
    """The pool, started on the first upload (a server that only shows the wall needs none)."""

    def __init__(self, workers: int = WORKERS, budget_s: float = BUDGET_S) -> None:
        self.workers, self.budget_s = workers, budget_s
        self._pool: ProcessPoolExecutor | None = None

    async def check(self, photos: list[tuple[bytes, str]]) -> list[bytes]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
            )
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, check_photos, photos, self.budget_s)
        except BrokenProcessPool:
            self._pool = None  # a worker died (out of memory?): the next upload gets a new pool
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)  # a running check ends in BUDGET_S
