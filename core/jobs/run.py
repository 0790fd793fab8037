"""One attempt at one portrait job: start, paint with heartbeats, store, finish or fail.

The outcomes a job can have, and who decides them:
- done: the outputs are stored under keys derived from the job id (a re-run overwrites);
- failed because of the user's input (no face): refunded, never retried;
- failed otherwise: handed back for SAQ to retry, until the retries run out (then refunded);
- handed back on shutdown or evacuation: the next worker starts it again.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from PIL import Image
from pydantic import ValidationError
from sqlalchemy import select

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.progress import StepEvent
from core.errors import Cancelled, UserInputError
from core.jobs import metrics
from core.jobs.events import JobEvent, publish
from core.jobs.spec import PortraitSpec
from core.store.accounts import refund_token
from core.store.derivatives import make_derivatives, make_thumbhash
from core.store.models import Job, Portrait, ReferenceFace
from core.store.references import digest_of

if TYPE_CHECKING:
    from core.jobs.worker import WorkerState

log = logging.getLogger("narcis.worker")
PREVIEW_MIN_S = 0.1  # at most ten previews a second per job, however fast the steps are


class JobRun:
    """One attempt at one job."""

    def __init__(self, state: WorkerState, saq_job, job_id: str) -> None:
        self.state, self.saq_job, self.job_id = state, saq_job, job_id
        self.stop = threading.Event()

    async def run(self) -> dict:
        spec = await self.start()
        if spec is None:
            return {"status": "skipped"}
        try:
            result = await self.with_heartbeat(self.make(spec))
        except (UserInputError, Cancelled) as exc:
            if isinstance(exc, Cancelled) and await self.status() == "cancelled":
                metrics.JOBS.labels("cancelled").inc()
                return {"status": "cancelled"}
            await self.fail(str(exc), refund=True)
            return {"status": "failed"}
        except asyncio.CancelledError:
            if not self.state.evacuate.is_set():
                await self.hand_back("the worker is shutting down")
            raise
        except Exception as exc:
            log.exception("job %s failed", self.job_id)
            if self.saq_job.retryable:
                await self.hand_back(f"{exc.__class__.__name__}: {exc}")
            else:
                await self.fail(
                    "something went wrong on our side; your token is refunded", refund=True
                )
            raise
        await self.finish(result)
        return {"status": "done", **result}

    async def start(self) -> PortraitSpec | None:
        async with self.state.db.session() as session:
            job = await session.get(Job, uuid.UUID(self.job_id), with_for_update=True)
            if job is None or job.status in ("done", "failed", "cancelled"):
                return None  # finished by an earlier attempt, or cancelled while queued
            job.status, job.worker = "running", self.state.worker_id
            job.attempts += 1
            job.started_at = datetime.now(UTC)
            (await session.get(Portrait, job.id)).status = "running"
            spec = PortraitSpec.model_validate(job.spec)
        if self.saq_job.attempts > 1:
            metrics.RETRIES.inc()
        await self.event("started")
        log.info("started attempt %d", self.saq_job.attempts)
        return spec

    async def with_heartbeat(self, work):
        """Run `work`, touching the SAQ job and watching for cancellation meanwhile."""
        task = asyncio.ensure_future(work)
        evacuation = asyncio.ensure_future(self.state.evacuate.wait())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {task, evacuation},
                    timeout=self.state.queue.heartbeat_s / 3,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if task in done:
                    return task.result()
                if evacuation in done:
                    await self.leave(task)
                await self.saq_job.update()
                await self.refresh_queue_depth()
                if await self.status() == "cancelled":
                    self.stop.set()
        except asyncio.CancelledError:
            self.stop.set()  # the thread stops at its next step
            await asyncio.wait({task}, timeout=60)
            raise
        finally:
            evacuation.cancel()

    async def leave(self, task: asyncio.Future) -> None:
        """Evacuation: stop painting, put the job back on the queue ourselves (SAQ only
        re-queues jobs it cancelled itself), and end this attempt."""
        self.stop.set()
        await asyncio.wait({task}, timeout=60)
        await self.hand_back("the host is being interrupted")
        await self.saq_job.retry("handed back before a spot interruption")
        raise asyncio.CancelledError

    async def make(self, spec: PortraitSpec) -> dict:
        params = await asyncio.to_thread(self.params_for, spec)
        references = [await self.reference(key, i) for i, key in enumerate(spec.references)]
        base = None if spec.base is None else await self.image(spec.base)
        loop = asyncio.get_running_loop()

        def on_step(step: StepEvent) -> None:
            asyncio.run_coroutine_threadsafe(
                self.event("step", stage=step.stage, step=step.step, total=step.total), loop
            )
            if step.preview is not None:
                asyncio.run_coroutine_threadsafe(self.preview(step), loop)

        def paint():
            pipeline = self.state.pipeline
            from core.diffusion.preview import PreviewingListener  # torch: worker only

            listener = PreviewingListener(on_step, self.state.previewer, PREVIEW_MIN_S)
            if base is None:
                return pipeline(params, references, on_step=listener, should_stop=self.stop.is_set)
            return pipeline.refine(
                base, None, params, references, on_step=listener, should_stop=self.stop.is_set
            )

        result = await asyncio.to_thread(paint)
        likeness = await asyncio.to_thread(
            self.state.likeness.measure, result.final, result.params, references
        )
        for stage, seconds in result.seconds.items():
            metrics.STAGE_SECONDS.labels(stage).observe(seconds)
        self.record_gpu_memory()
        return await self.store_outputs(result) | {"likeness": likeness.to_dict()}

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
        from core.diffusion.faces.analysis import Face, FaceChoice
        from core.diffusion.references import find_face, reference_from_face

        pipeline, name = self.state.pipeline, f"photo {index + 1}"
        image = await self.image(key)
        size = pipeline.identity.encoder.config.image_size
        async with self.state.db.session() as session:
            row = await session.scalar(
                select(ReferenceFace).where(ReferenceFace.content_hash == digest_of(key))
            )
            if row is not None and row.analysis and row.analyzer == pipeline.analyzer.name:
                choice = FaceChoice(
                    Face.from_record(row.analysis["face"], row.embedding), row.analysis["found"]
                )
                return reference_from_face(name, image, choice, size)
        choice = await asyncio.to_thread(find_face, name, image, pipeline.analyzer)
        record, embedding = choice.face.to_record()
        async with self.state.db.session() as session:
            row = await session.scalar(
                select(ReferenceFace).where(ReferenceFace.content_hash == digest_of(key))
            )
            if row is None:
                row = ReferenceFace(content_hash=digest_of(key), storage_key=key)
                session.add(row)
            row.analyzer, row.embedding = pipeline.analyzer.name, embedding
            row.analysis = {"face": record, "found": choice.found}
        return reference_from_face(name, image, choice, size)

    async def store_outputs(self, result) -> dict:
        from core.diffusion.pngmeta import png_bytes

        media, prefix = self.state.media, f"portraits/{self.job_id}"
        keys = {"final": f"{prefix}/final.png"}
        await media.put(keys["final"], png_bytes(result.final, result.params), "image/png")
        derivatives = await asyncio.to_thread(make_derivatives, result.final)
        for d in derivatives:
            key = f"{prefix}/{d.width}.{d.extension}"
            await media.put(key, d.data, d.content_type)
            keys[f"{d.width}.{d.extension}"] = key
        return {
            "keys": keys,
            "thumbhash": make_thumbhash(result.final),
            "size": list(result.final.size),
            "params": result.params.model_dump(mode="json"),
            "seconds": result.seconds,
        }

    async def finish(self, result: dict) -> None:
        async with self.state.db.session() as session:
            job = await session.get(Job, uuid.UUID(self.job_id))
            job.status, job.error = "done", None
            job.finished_at = datetime.now(UTC)
            job.timings = result["seconds"]
            portrait = await session.get(Portrait, job.id)
            portrait.status, portrait.media = "done", result["keys"]
            portrait.width, portrait.height = result["size"]
            portrait.thumbhash, portrait.parameters = result["thumbhash"], result["params"]
            portrait.prompt = result["params"]["composition"]["prompt"]
            portrait.seed = result["params"]["composition"]["seed"]
            likeness = result["likeness"]
            portrait.likeness, portrait.likeness_analyzer = likeness["score"], likeness["analyzer"]
            portrait.prompt_score = likeness["prompt_score"]
        metrics.JOBS.labels("done").inc()
        await self.event("done", result=result["keys"])
        log.info("done in %.1f s", result["seconds"].get("total", 0.0))

    async def fail(self, reason: str, refund: bool) -> None:
        async with self.state.db.session() as session:
            job = await session.get(Job, uuid.UUID(self.job_id), with_for_update=True)
            job.status, job.error = "failed", reason
            job.finished_at = datetime.now(UTC)
            portrait = await session.get(Portrait, job.id)
            portrait.status = "failed"
            if refund and job.token_spent:
                await refund_token(session, job.session_id, portrait.user_id)
                job.token_spent = False
        metrics.JOBS.labels("failed").inc()
        await self.event("failed", reason=reason)
        log.info("failed: %s", reason)

    async def hand_back(self, why: str) -> None:
        async with self.state.db.session() as session:
            job = await session.get(Job, uuid.UUID(self.job_id))
            if job.status == "running":
                job.status, job.error = "queued", why
                (await session.get(Portrait, job.id)).status = "queued"
        metrics.RETRIES.inc()
        log.warning("handed back to the queue: %s", why)

    async def status(self) -> str | None:
        async with self.state.db.session() as session:
            return await session.scalar(select(Job.status).where(Job.id == uuid.UUID(self.job_id)))

    async def preview(self, step: StepEvent) -> None:
        data = base64.b64encode(step.preview).decode("ascii")
        await self.event(
            "preview", stage=step.stage, step=step.step, total=step.total, preview=data
        )

    async def event(self, kind: str, **fields) -> None:
        await publish(self.state.redis, JobEvent(job_id=self.job_id, type=kind, **fields))

    async def refresh_queue_depth(self) -> None:
        metrics.QUEUE_DEPTH.set(await self.state.queue.saq.count("queued"))

    @staticmethod
    def record_gpu_memory() -> None:
        import torch

        if torch.cuda.is_available():
            metrics.GPU_MEMORY.set(torch.cuda.max_memory_allocated())
            torch.cuda.reset_peak_memory_stats()
