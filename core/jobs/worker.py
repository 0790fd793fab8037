"""`narcis worker`: loads the models once, then runs portrait jobs one at a time.

A job's life (core/jobs/lifecycle.py owns it): queued → running (under a lease the attempt
renews while the GPU works) → done, failed or cancelled.
- A user's mistake (no face in a photo) fails the job at once, refunds its token, no retry.
- Any other failure hands the job back for another attempt, up to RETRIES failures.
- A worker killed mid-job stops renewing; the reaper (a loop in every worker) hands the job to
  another worker once the lease expires, and rebuilds SAQ's queue from the database if Redis
  lost it. SAQ's own heartbeat, timeout and sweep are not used: they cannot tell a dead
  worker from a busy one.
- SIGTERM: no new jobs (not even one fetched in that moment); the current one may finish
  within `worker_grace_s`, else it stops at the next step and goes back to the queue. An idle
  worker exits at once: no upkeep loop waits out its sleep.
- Redis or the database away: every loop backs off and logs once per outage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis
from saq import CronJob, Worker

from core.config import Settings
from core.errors import UserInputError
from core.jobs import metrics
from core.jobs.outage import is_transient, pause, shared
from core.jobs.queue import JobQueue
from core.jobs.reaper import Reaper
from core.jobs.run import JobRun
from core.logs import current_job
from core.sharing import once
from core.store.db import Database
from core.store.media import MediaStore
from core.store.retention import purge_references

log = logging.getLogger("narcis.worker")
FETCH_WAIT_S = 1.0  # a fetch blocks at most this long, so a draining worker stops fetching


@dataclass
class WorkerState:
    """What a worker process loads once and shares between jobs.

    Threads: the event loop owns it; an attempt's painting, likeness and face finding run in
    `asyncio.to_thread`, and a stopped painting's thread may still be finishing its step when
    the next job starts. So each model is built once under a lock (`once`), the pipeline lets
    one painting at a time hold its models, and the face analyser and likeness meter are
    thread-safe themselves. The agent is only called on the loop's default executor, one
    job at a time (SAQ concurrency 1): its caches are locked anyway.
    """

    settings: Settings
    db: Database
    media: MediaStore
    queue: JobQueue
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # Set on SIGUSR1 (a spot interruption is coming): hand the current job back right away.
    evacuate: asyncio.Event = field(default_factory=asyncio.Event)
    # The jobs this process's attempts hold: its reaper never takes them (only the event loop
    # touches it, so it needs no lock).
    painting: set[uuid.UUID] = field(default_factory=set)

    @property
    def redis(self) -> Redis:
        return self.queue.redis

    @once
    def pipeline(self):
        import torch

        from core.diffusion.device import resolve_device, resolve_dtype
        from core.diffusion.portrait import PortraitPipeline
        from core.modelkit.layout import ModelLayout

        device = resolve_device(self.settings.device)
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
        return PortraitPipeline.load(
            ModelLayout(self.settings.models_path),
            device,
            resolve_dtype(self.settings.dtype, device),
            compile_unet=self.settings.compile,
        )

    @once
    def previewer(self):
        from core.modelkit.layout import ModelLayout

        return self.pipeline.previewer(ModelLayout(self.settings.models_path))

    @once
    def likeness(self):
        """Scores every finished portrait: the pipeline's face analyser, CLIP if present."""
        from core.modelkit.layout import ModelLayout

        return self.pipeline.likeness_meter(ModelLayout(self.settings.models_path))

    @once
    def agent(self):
        from core.prompt.agent import make_agent

        return make_agent(self.settings)


class SpineWorker(Worker):
    """SAQ's worker with our upkeep: cron scheduling, worker info and the reaper, each backing
    off quietly while Redis or the database is away (SAQ's own sweep and abort are left out)."""

    def __init__(self, *args, reaper: Reaper, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.reaper = reaper
        self.outage = shared("redis")

    async def upkeep(self) -> list[asyncio.Task]:
        return [
            asyncio.create_task(self._every(self.schedule, self.timers["schedule"])),
            asyncio.create_task(self._every(self.worker_info, self.timers["worker_info"])),
            asyncio.create_task(self.reaper.run(self.event)),
        ]

    async def _every(self, work, seconds: float) -> None:
        while not self.event.is_set():
            try:
                await work()
                self.outage.ok()
            except Exception as exc:
                if not is_transient(exc):
                    log.exception("upkeep failed")
                await pause(self.event, self.outage.failed(exc) if is_transient(exc) else seconds)
                continue
            await pause(self.event, seconds)


def make_worker(state: WorkerState, concurrency: int = 1) -> Worker:
    async def startup(ctx: dict) -> None:
        ctx["state"] = state
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, lambda: evacuate(state, worker))
        await asyncio.to_thread(lambda: state.pipeline)  # load models before taking a job
        metrics.serve_metrics(state.settings.metrics_port)
        log.info("worker %s ready", state.worker_id)

    settings = state.settings
    reaper = Reaper(
        state.queue,
        settings.job_heartbeat_s,
        settings.reaper_interval_s,
        state.worker_id,
        painting=lambda: state.painting,
    )
    worker = SpineWorker(
        state.queue.saq,
        functions=[("run_portrait", run_portrait), ("write_prompt", write_prompt)],
        cron_jobs=[CronJob(purge_old_references, cron="17 3 * * *", unique=True)],
        concurrency=concurrency,
        startup=startup,
        shutdown_grace_period_s=settings.worker_grace_s,
        cancellation_hard_deadline_s=30.0,
        timers={"schedule": 1, "worker_info": 10},
        dequeue_timeout=FETCH_WAIT_S,
        id=state.worker_id,
        reaper=reaper,
    )
    state.queue.saq.draining = lambda: worker.event.is_set()
    return worker


def evacuate(state: WorkerState, worker: Worker) -> None:
    """Stop taking jobs and hand the current one back now (no grace: the host is going)."""
    log.warning("evacuating: the host is about to be interrupted")
    state.evacuate.set()
    worker.event.set()


async def purge_old_references(ctx: dict) -> int:
    """Daily: delete reference photos older than the retention period (7 days by default)."""
    state: WorkerState = ctx["state"]
    removed = await purge_references(state.db, state.media, state.settings.retention_days)
    log.info(
        "purged %d reference photos older than %d days", removed, state.settings.retention_days
    )
    return removed


async def write_prompt(ctx: dict, *, idea: str, style: str = "none", seed: int = 0) -> dict:
    """The prompt agent, for front ends that must not load models (the bot's /idea)."""
    state: WorkerState = ctx["state"]
    try:
        result = await asyncio.to_thread(state.agent.run, idea, style, seed)
    except UserInputError as exc:
        return {"error": str(exc)}
    return result.model_dump(mode="json")


async def run_portrait(ctx: dict, *, job_id: str) -> dict:
    state: WorkerState = ctx["state"]
    saq_job = ctx["job"]
    token = current_job.set(job_id)
    try:
        return await JobRun(state, saq_job, job_id).run()
    finally:
        current_job.reset(token)


def run_worker(settings: Settings, concurrency: int = 1) -> None:
    from core.logs import configure_json_logging
    from core.store.factory import make_database, make_media

    configure_json_logging()
    db = make_database(settings)
    queue = JobQueue(settings.redis_url, db)
    state = WorkerState(settings, db, make_media(settings), queue)
    worker = make_worker(state, concurrency)
    started = time.monotonic()

    async def serve() -> None:
        try:
            await worker.start()
        finally:  # nothing left open that would keep the process from exiting
            await queue.close()
            await db.dispose()

    try:
        asyncio.run(serve())
    finally:
        log.info("worker stopped after %.0f s", time.monotonic() - started)
