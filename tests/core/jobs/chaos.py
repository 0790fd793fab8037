"""Driving a stack through faults: paying guests, submits, who runs what, kills."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.jobs.spec import PortraitSpec
from core.store.accounts import create_guest
from core.store.db import Database
from core.store.models import GUEST_TOKENS, Job
from tests.stack import Stack


def params(steps: int, crop: int = 64) -> PortraitParams:
    return PortraitParams(
        composition=CompositionParams(prompt="a spot fleet", width=64, height=64, steps=1),
        identity=IdentityParams(steps=steps, crop_size=crop),
        face_retries=0,
    )


async def submit_paid(
    stack: Stack, key: str, count: int, steps: int, crop: int = 64
) -> tuple[list[str], dict[str, str]]:
    """`count` jobs, each paid by a guest (GUEST_TOKENS jobs per guest): ids and payers."""
    db, queue = Database(stack.database_url), stack.queue()
    job_ids, payer = [], {}
    try:
        guest = None
        for i in range(count):
            if i % GUEST_TOKENS == 0:
                guest = str((await create_guest(db)).id)
            spec = PortraitSpec(
                references=[key], base=key, params=params(steps, crop), session_id=guest
            )
            job_ids.append(await queue.submit_portrait(spec))
            payer[job_ids[-1]] = guest
        return job_ids, payer
    finally:
        await queue.close()
        await db.dispose()


async def holders(stack: Stack) -> dict[str, tuple[str, int]]:
    """Running jobs: job id → (worker id, attempt)."""
    db = Database(stack.database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(Job.id, Job.worker, Job.attempts).where(Job.status == "running")
            )
            return {str(j): (w, a) for j, w, a in rows}
    finally:
        await db.dispose()


async def cancel(stack: Stack, *job_ids: str) -> list[bool]:
    """Cancel each job as a user would; whether each cancel won."""
    queue = stack.queue()
    try:
        return [await queue.cancel(job_id) for job_id in job_ids]
    finally:
        await queue.close()


def attempts(stack: Stack, job_ids: list[str]) -> dict[str, int]:
    """Each job's number of attempts so far."""

    async def go():
        queue = stack.queue()
        try:
            return {j: (await queue.status(j)).attempts for j in job_ids}
        finally:
            await queue.close()

    return stack.run(go())


def process_of(stack: Stack, worker_id: str) -> subprocess.Popen | None:
    pid = int(worker_id.rsplit("-", 1)[1])
    return next((p for p in stack.workers if p.pid == pid and p.poll() is None), None)


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def new_id() -> str:
    return str(uuid.uuid4())


def wait_ready(stack: Stack, count: int, timeout: float = 120) -> None:
    """Until `count` workers have logged that they are ready."""
    deadline = time.monotonic() + timeout
    while stack.logs().count(' ready"') < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} workers ready:\n{stack.logs()[-3000:]}")
        time.sleep(0.2)
