"""The job spine for tests: a fresh database, media folder and Redis database per test, and
real `narcis worker` processes started and stopped on demand."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from core.jobs.queue import JobQueue
from core.store.db import Database
from core.store.media import LocalMedia
from core.store.references import store_reference
from tests.helpers import ROOT

HEARTBEAT_S = 3  # the workers' lease
REAPER_S = 2


@dataclass
class Stack:
    root: Path
    database_url: str
    redis_url: str
    models: Path
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def media(self) -> LocalMedia:
        return LocalMedia(self.root / "media")

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            # the code under test, also where the editable install points elsewhere (a worktree)
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "HF_HUB_OFFLINE": "1",
            "NARCIS_DATA_DIR": str(self.root),
            "NARCIS_DATABASE_URL": self.database_url,
            "NARCIS_REDIS_URL": self.redis_url,
            "NARCIS_MODELS_DIR": str(self.models),
            "NARCIS_DEVICE": "cpu",
            "NARCIS_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
            "NARCIS_REAPER_INTERVAL_S": str(REAPER_S),
            "NARCIS_METRICS_PORT": "0",
            "NARCIS_WORKER_GRACE_S": "30",
            # a worktree's tests run its own code (the editable install points at one checkout)
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
            **extra,
        }

    def start_worker(self, *, wrap: tuple[str, ...] = (), **extra: str) -> subprocess.Popen:
        """A `narcis worker` with these settings, run under `wrap` (`("nice", "-n", "10")`)."""
        log = (self.root / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [*wrap, sys.executable, "-m", "cli.main", "worker"],
            cwd=ROOT,
            env=self.env(**extra),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

    def logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.root.glob("worker-*.log"))
        )

    def run(self, work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run(work)

    def queue(self) -> JobQueue:
        return JobQueue(self.redis_url, Database(self.database_url))

    async def store(self, image: Image.Image, name: str = "face.png") -> str:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        db = Database(self.database_url)
        try:
            return await store_reference(db, self.media, buffer.getvalue(), name)
        finally:
            await db.dispose()


async def wait_for(queue: JobQueue, job_id: str, timeout: float = 180) -> list:
    events = []
    async for event in queue.events(job_id, timeout=timeout):
        events.append(event)
    return events


def wait_until(condition, timeout: float = 60, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise TimeoutError("condition not met in time")


async def wait_for_step(stack: Stack, job_id: str, step: int = 1) -> None:
    """Until the job has painted `step` steps of some stage."""
    queue = stack.queue()
    try:
        async for event in queue.events(job_id, timeout=120):
            if event.type == "step" and event.step >= step:
                return
    finally:
        await queue.close()
