"""One attempt at one portrait job: claim, paint under a lease, store, finish or fail.

The database owns the job's state (core/jobs/lifecycle.py, which also writes down the lease
rules); an attempt only acts while it holds the job's lease, which it renews every third of
`job_heartbeat_s` from its own task, apart from the painting thread (core/jobs/lease.py). The
painting waits at its next step while the database has not answered a renewal for two renewal
periods (after a stall it asks first), and nothing is written without a fresh confirmation.
The attempt stops at the next step when:
- the lease is gone (the job was cancelled, or the reaper gave it to another worker): it stores
  nothing and says nothing more;
- the host is being evacuated (SIGUSR1), or it ran past `job_timeout_s`: it hands the job back.
Outputs go under keys of the attempt (portraits/<job>/<attempt>/...) and count only once the
transaction that checks the lease token marks the job done; a refused attempt deletes them.
Outcomes:
- done; failed because of the user's input (no face): refunded, never retried;
- failed otherwise: handed back for another attempt, until RETRIES failures (then refunded);
- handed back on shutdown or evacuation: the next worker starts it again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Protocol

from PIL import Image
from pydantic import ValidationError
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.config import Settings
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.progress import StepEvent
from core.errors import UserInputError
from core.jobs import lifecycle, metrics
from core.jobs.events import EventStream
from core.jobs.lease import Lease
from core.jobs.outage import is_transient, shared
from core.jobs.queue import JobQueue
from core.jobs.spec import PortraitSpec
from core.store.db import Database
from core.store.derivatives import make_derivatives, make_thumbhash
from core.store.media import MediaStore
from core.store.models import Job, ReferenceFace
from core.store.references import digest_of

if TYPE_CHECKING:
    from core.diffusion.faces.analysis import FaceChoice

log = logging.getLogger("narcis.worker")
PREVIEW_MIN_S = 0.1  # at most ten previews a second per job, however fast the steps are
CLAIM_PAUSES = (0.05, 0.2, 0.5, 1.0)  # a submit enqueues inside its transaction: wait for it


class AttemptHost(Protocol):
    """What an attempt needs of its worker process (core/jobs/worker.py's WorkerState)."""

    settings: Settings
    db: Database
    media: MediaStore
    queue: JobQueue
    worker_id: str
    evacuate: asyncio.Event  # set: hand the job back now
    painting: set[uuid.UUID]  # the jobs this process's attempts hold (its reaper leaves them)

    @property
    def redis(self) -> Redis: ...

    @property
    def pipeline(self): ...

    @property
    def previewer(self): ...

    @property
    def likeness(self): ...

    @property
    def agent(self): ...


class JobRun:
    """One attempt at one job."""

    def __init__(self, state: AttemptHost, saq_job, job_id: str) -> None:
        self.state, self.saq_job, self.job_id = state, saq_job, job_id
        self.id = uuid.UUID(job_id)
        self.stop = threading.Event()  # the painting thread stops at its next step
        self.db = shared("the database")
        self.claim: lifecycle.Claim | None = None
        self.lease: Lease | None = None
        self.events: EventStream | None = None

    @property
    def lease_s(self) -> float:
        return self.state.settings.job_heartbeat_s

    async def run(self) -> dict:
        self.claim = await self.take()
        if self.claim is None:
            return {"status": "skipped"}  # not queued: cancelled, finished, or running elsewhere
        self.lease = Lease(self.state.db, self.id, self.claim.token, self.lease_s)
        self.state.painting.add(self.id)
        if self.claim.attempt > 1:
            metrics.RETRIES.inc()
        self.events = EventStream(self.state.redis, self.job_id, self.claim.attempt)
        self.events.send("started")
        log.info("started attempt %d", self.claim.attempt)
        watch = asyncio.ensure_future(self.watch())
        try:
            return {
                "status": await self.attempt(PortraitSpec.model_validate(self.claim.spec), watch)
            }
        finally:
            watch.cancel()
            self.state.painting.discard(self.id)
            await self.events.close()

    async def take(self) -> lifecycle.Claim | None:
        """Claim the job; a row not there yet may belong to a submit still committing."""
        worker = self.state.worker_id
        for pause in (*CLAIM_PAUSES, None):
            claim = await self.db.retrying(
                lambda: lifecycle.claim(self.state.db, self.id, worker, self.lease_s)
            )
            if claim is not None or pause is None or await self.status() is not None:
                return claim
            await asyncio.sleep(pause)
        return None

    async def attempt(self, spec: PortraitSpec, watch: asyncio.Future) -> str:
        work = asyncio.ensure_future(self.make(spec))
        try:
            await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the worker is shutting down past its grace period
            await self.halt(work)
            await self.hand_back("the worker is shutting down", failure=False)
            raise
        if not work.done() or self.lease.lost.is_set():  # the watch says stop: at the next step
            await self.halt(work)
            return await self.stopped(await watch)
        try:
            result = work.result()
        except UserInputError as exc:
            return await self.fail(str(exc))
        except Exception as exc:
            log.exception("attempt %d failed", self.claim.attempt)
            return await self.hand_back(f"{exc.__class__.__name__}: {exc}", failure=True)
        store = asyncio.ensure_future(self.store(result))
        try:
            return await asyncio.shield(store)
        except asyncio.CancelledError:  # shutting down while storing: storing is short, finish it
            await asyncio.wait({store}, timeout=30)
            raise

    async def watch(self) -> str:
        """Renew the lease until the attempt must stop; why it must. Renewals keep their
        cadence, each due one renewal period after the last was asked: waiting a full period
        after a renewal that was slow to come back (a loaded host, a slow database) stretched
        the gap between two expiries to the period plus that delay, and a live lease ran out."""
        deadline = time.monotonic() + self.state.settings.job_timeout_s
        due = time.monotonic() + self.lease.renew_s
        while True:
            if (wait := due - time.monotonic()) > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.state.evacuate.wait(), wait)
            if self.state.evacuate.is_set():
                return "evacuate"
            if time.monotonic() > deadline:
                return "timeout"
            due = time.monotonic() + self.lease.renew_s
            if await self.lease.renew() is False:
                return "cancelled" if await self.status() == "cancelled" else "lost"

    async def halt(self, work: asyncio.Future) -> None:
        """Stop the painting at its next step and wait for the thread to let go."""
        self.stop.set()
        done, _ = await asyncio.wait({work}, timeout=60)
        if done and not work.cancelled() and work.exception() is not None:
            log.info("painting stopped: %s", work.exception())

    async def stopped(self, why: str) -> str:
        if why == "evacuate":
            return await self.hand_back("the host is being interrupted", failure=False)
        if why == "timeout":
            limit = self.state.settings.job_timeout_s
            return await self.hand_back(f"took longer than {limit} s", failure=True)
        log.warning("attempt %d stopped: the job was %s", self.claim.attempt, why)
        metrics.JOBS.labels(why).inc()
        return why

    async def store(self, made: tuple) -> str:
        """Store the outputs and mark the job done, only while this attempt holds it."""
        result, likeness = made
        await self.events.close()  # every step is out before the outcome
        attempt = self.claim.attempt
        if not await self.lease.confirmed():
            log.warning("attempt %d lost the job before storing; nothing stored", attempt)
            return "lost"
        prefix = f"portraits/{self.job_id}/{attempt}"
        log.info("storing outputs of attempt %d", attempt)
        outputs = await self.outputs(result, prefix, likeness)
        done = outputs is not None and await self.db.retrying(
            lambda: lifecycle.finish(
                self.state.db, self.id, self.claim.token, outputs | {"likeness": likeness}
            )
        )
        if not done:
            await self.state.media.delete(prefix)
            log.warning("attempt %d lost the job while storing; its outputs are deleted", attempt)
            return "lost"
        metrics.JOBS.labels("done").inc()
        log.info(
            "stored outputs of attempt %d; done in %.1f s",
            attempt,
            sum(result.seconds.values()),
        )
        await self.state.queue.announce(self.id)
        return "done"

    async def fail(self, reason: str) -> str:
        failed = await self.db.retrying(
            lambda: lifecycle.fail(self.state.db, self.id, self.claim.token, reason)
        )
        if not failed:
            return "lost"
        metrics.JOBS.labels("failed").inc()
        log.info("failed: %s", reason)
        await self.state.queue.announce(self.id)
        return "failed"

    async def hand_back(self, why: str, failure: bool) -> str:
        """Give the job back: to the queue while retries last (this attempt then ends as SAQ
        expects of a job it should not finish: by CancelledError), else fail and refund."""
        outcome = await self.db.retrying(
            lambda: lifecycle.release(
                self.state.db, self.id, why, token=self.claim.token, failure=failure
            )
        )
        if outcome == "failed":
            metrics.JOBS.labels("failed").inc()
            log.warning("gave up after %d failed attempts: %s", lifecycle.RETRIES, why)
            await self.state.queue.announce(self.id)
            return "failed"
        if outcome is None:
            return "lost"
        metrics.RETRIES.inc()
        log.warning("handed back to the queue: %s", why)
        try:
            await self.saq_job.retry(why)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("could not re-queue on SAQ (%s); the reaper will", exc)
        raise asyncio.CancelledError

    async def make(self, spec: PortraitSpec):
        # Each step below runs in a thread on shared models. They are safe to overlap: the
        # pipeline takes one painting at a time (a halted painting's thread may still be
        # ending its step as the next job begins), the analyser and likeness meter are
        # thread-safe, and each image here belongs to this attempt and is only read.
        params = await asyncio.to_thread(self.params_for, spec)
        references = [await self.reference(key, i) for i, key in enumerate(spec.references)]
        base = None if spec.base is None else await self.image(spec.base)

        def on_step(step: StepEvent) -> None:
            self.events.send_threadsafe("step", stage=step.stage, step=step.step, total=step.total)
            if step.preview is not None:
                data = base64.b64encode(step.preview).decode("ascii")
                self.events.send_threadsafe(
                    "preview", stage=step.stage, step=step.step, total=step.total, preview=data
                )

        def should_stop() -> bool:  # before each step, in the painting thread
            self.lease.pause_if_unheard(self.stop.is_set)
            return self.stop.is_set() or self.lease.lost.is_set()

        def paint():
            pipeline = self.state.pipeline
            from core.diffusion.preview import PreviewingListener  # torch: worker only

            listener = PreviewingListener(on_step, self.state.previewer, PREVIEW_MIN_S)
            if base is None:
                return pipeline(params, references, on_step=listener, should_stop=should_stop)
            return pipeline.refine(
                base, None, params, references, on_step=listener, should_stop=should_stop
            )

        result = await asyncio.to_thread(paint)
        likeness = await asyncio.to_thread(
            self.state.likeness.measure, result.final, result.params, references
        )
        for stage, seconds in result.seconds.items():
            metrics.STAGE_SECONDS.labels(stage).observe(seconds)
        self.record_gpu_memory()
        return result, likeness.to_dict()

    def params_for(self, spec: PortraitSpec) -> PortraitParams:
        if spec.params is not None:
            return spec.params
        written = self.state.agent.run(spec.idea or "portrait", style=spec.style, seed=spec.seed)
        size, steps = self.state.settings.portrait_size, self.state.settings.portrait_steps
        params = PortraitParams(
            idea=spec.idea,
            composition=CompositionParams(
                prompt=written.prompt,
                negative_prompt=written.negative_prompt,
                width=size,
                height=size,
                steps=steps,
                seed=spec.seed,
            ),
            identity=IdentityParams(steps=steps, crop_size=min(1024, size), seed=spec.seed),
            place_face=self.state.settings.place_face,
        )
        if not spec.overrides:
            return params
        data = params.model_dump()
        for section, changes in spec.overrides.items():
            data[section] |= changes
        try:
            return PortraitParams.model_validate(data)
        except ValidationError as exc:
            raise UserInputError(f"invalid parameters: {exc.errors()[0]['msg']}") from None

    async def image(self, key: str) -> Image.Image:
        data = await self.state.media.get(key)
        return Image.open(io.BytesIO(data)).convert("RGB")

    async def reference(self, key: str, index: int):
        """A reference ready for the encoder; its face analysis is cached by content hash."""
        from core.diffusion.references import find_face, reference_from_face

        pipeline, name = self.state.pipeline, f"photo {index + 1}"
        image = await self.image(key)
        size = pipeline.identity.encoder.config.image_size
        choice = await self.cached_face(key, pipeline.analyzer.name)
        if choice is None:
            choice = await asyncio.to_thread(find_face, name, image, pipeline.analyzer)
            await self.cache_face(key, pipeline.analyzer.name, choice)
        return reference_from_face(name, image, choice, size)

    # The face cache only saves an analysis: a database that is away or refuses writes (a
    # failover to a read-only standby) costs a fresh analysis, never the paid attempt. Attempts
    # in several workers may cache one photo at once: each in its own transaction, the first
    # insert stands and a racing one is an IntegrityError (tests/core/jobs/test_face_cache.py).
    async def cached_face(self, key: str, analyzer: str) -> FaceChoice | None:
        from core.diffusion.faces.analysis import Face, FaceChoice

        try:
            async with self.state.db.session() as session:
                row = await session.scalar(_face_row(key))
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.db.failed(exc)
            return None
        if row is None or not row.analysis or row.analyzer != analyzer:
            return None
        return FaceChoice(
            Face.from_record(row.analysis["face"], row.embedding), row.analysis["found"]
        )

    async def cache_face(self, key: str, analyzer: str, choice: FaceChoice) -> None:
        record, embedding = choice.face.to_record()
        try:
            async with self.state.db.session() as session:
                row = await session.scalar(_face_row(key))
                if row is None:
                    row = ReferenceFace(content_hash=digest_of(key), storage_key=key)
                    session.add(row)
                row.analyzer, row.embedding = analyzer, embedding
                row.analysis = {"face": record, "found": choice.found}
        except IntegrityError:  # another attempt cached the same photo first: theirs stands
            pass
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.db.failed(exc, writing=True)

    async def outputs(self, result, prefix: str, likeness: dict) -> dict | None:
        """Encode the outputs, then write each under the attempt's prefix while the lease is
        confirmed; None (and nothing left under the prefix) once it is not."""
        from core.diffusion.pngmeta import png_bytes

        def encode() -> tuple[dict[str, tuple[str, bytes, str]], str]:
            png = png_bytes(result.final, result.params, likeness)  # the score travels with it
            files = {"final": (f"{prefix}/final.png", png, "image/png")}
            for d in make_derivatives(result.final):
                name = f"{d.width}.{d.extension}"
                files[name] = (f"{prefix}/{name}", d.data, d.content_type)
            return files, make_thumbhash(result.final)

        files, thumbhash = await asyncio.to_thread(encode)
        for key, data, content_type in files.values():
            if not await self.lease.confirmed():
                await self.state.media.delete(prefix)
                return None
            await self.state.media.put(key, data, content_type)
        return {
            "keys": {name: key for name, (key, _, _) in files.items()},
            "thumbhash": thumbhash,
            "size": list(result.final.size),
            "params": result.params.model_dump(mode="json"),
            "seconds": result.seconds,
        }

    async def status(self) -> str | None:
        try:
            async with self.state.db.session() as session:
                return await session.scalar(select(Job.status).where(Job.id == self.id))
        except Exception as exc:
            if not is_transient(exc):
                raise
            return None

    @staticmethod
    def record_gpu_memory() -> None:
        import torch

        if torch.cuda.is_available():
            metrics.GPU_MEMORY.set(torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()


def _face_row(key: str):
    """The cached analysis of the photo stored under `key` (found by its content)."""
    return select(ReferenceFace).where(ReferenceFace.content_hash == digest_of(key))
