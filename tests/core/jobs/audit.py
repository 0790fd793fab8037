"""Auditing jobs after faults: one terminal state each, one execution each (attempts that
reached storage, from the workers' logs: outputs keyed by job id would hide a double run),
exact tokens, and event logs that replay without gaps, duplicates or mixed attempts."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select

from core.jobs.events import TERMINAL, JobEvent, ended, history
from core.jobs.outage import make_redis
from core.store.db import Database
from core.store.models import GUEST_TOKENS, GuestSession, Job
from tests.stack import Stack


@dataclass
class Audit:
    jobs: int
    terminal: Counter
    double_executions: list[str] = field(default_factory=list)
    discarded: int = 0  # attempts that wrote outputs, lost the job meanwhile, and deleted them
    stuck: list[str] = field(default_factory=list)
    token_mismatches: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)

    def row(self, faults: str, **extra) -> dict:
        return {
            "faults": faults,
            "jobs": self.jobs,
            "terminal": dict(self.terminal),
            "double exec": len(self.double_executions),
            "discarded": self.discarded,
            "stuck": len(self.stuck),
            "token mismatch": len(self.token_mismatches),
            "log problems": len(self.log_problems),
            **extra,
        }

    @property
    def clean(self) -> bool:
        return not (
            self.double_executions or self.stuck or self.token_mismatches or self.log_problems
        )


def executions(logs: str, what: str = "stored outputs of attempt") -> Counter:
    """Attempts whose outputs were stored (committed under their lease), per job id; with
    `what="lost the job while storing"`, attempts that wrote outputs and had to delete them."""
    found: Counter = Counter()
    for line in logs.splitlines():
        if what not in line:
            continue
        try:
            found[json.loads(line)["job_id"]] += 1
        except (ValueError, KeyError):
            continue
    return found


def log_problems(job_id: str, events: list[JobEvent], status: str) -> list[str]:
    problems = []
    if [e.seq for e in events] != list(range(1, len(events) + 1)):
        problems.append(f"{job_id}: seq {[e.seq for e in events]}")
    ends = [e for e in events if e.type in TERMINAL]
    if len(ends) != 1 or events[-1] is not ends[0] or ends[0].type != status:
        problems.append(f"{job_id}: terminal events {[e.type for e in ends]}, status {status}")
    current, seen, last = 0, set(), {}
    for e in events:
        if e.type == "started":
            current = max(current, e.attempt)
        elif e.type == "step" and e.attempt < current:
            problems.append(f"{job_id}: a step of attempt {e.attempt} after attempt {current}")
        mark = (e.attempt, e.type, e.stage, e.step)
        if mark in seen:
            problems.append(f"{job_id}: {mark} twice")
        seen.add(mark)
        if e.type == "step":
            if e.step <= last.get((e.attempt, e.stage), 0):
                problems.append(f"{job_id}: {e.stage} steps out of order")
            last[(e.attempt, e.stage)] = e.step
    return problems


async def wait_terminal(stack: Stack, job_ids: list[str], timeout: float) -> dict[str, str]:
    """Poll the database until every job is finished or the time is up; their statuses."""
    db = Database(stack.database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            statuses = await _statuses(db, job_ids)
            if all(s in TERMINAL for s in statuses.values()) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


def settled(logs: str) -> bool:
    """Every attempt that began storing has ended: stored, or lost the job and deleted what it
    wrote. Matched by job and attempt: counted in bulk, an attempt that lost its job before it
    began storing made another job's attempt, still writing, look ended — and its outputs,
    about to be deleted, were found by the caller (the flaky cancel race)."""
    began = storings(logs, "storing outputs of attempt")
    ended = storings(logs, "stored outputs of attempt") | storings(logs, "lost the job while")
    return began <= ended


def storings(logs: str, what: str) -> set[tuple[str, int]]:
    """(job id, attempt) of each log line whose message says `what`."""
    found = set()
    for line in logs.splitlines():
        if what not in line:
            continue
        try:
            entry = json.loads(line)
            attempt = int(re.search(r"attempt (\d+)", entry["message"]).group(1))
            found.add((entry["job_id"], attempt))
        except (ValueError, KeyError, AttributeError):
            continue
    return found


async def audit(stack: Stack, job_ids: list[str], payer: dict[str, str] | None = None) -> Audit:
    """`payer`: job id → guest session id, for jobs that cost a token."""
    for _ in range(100):  # a cancelled job's attempt may still be storing: let it finish
        if settled(stack.logs()):
            break
        await asyncio.sleep(0.2)
    db, redis = Database(stack.database_url), make_redis(stack.redis_url)
    try:
        statuses = await _statuses(db, job_ids)
        finished = [j for j, s in statuses.items() if s in TERMINAL]
        for _ in range(100):  # a terminal event lost to an outage is re-sent by the reaper
            if all(await ended(redis, finished)):
                break
            await asyncio.sleep(0.2)
        result = Audit(len(job_ids), Counter(statuses.values()))
        logs = stack.logs()
        ran = executions(logs)
        result.discarded = sum(executions(logs, "lost the job while storing").values())
        for job_id, status in statuses.items():
            if status not in TERMINAL:
                result.stuck.append(job_id)
            if ran[job_id] > 1 or (status == "done") != (ran[job_id] == 1):
                result.double_executions.append(f"{job_id}: {ran[job_id]} × stored, {status}")
            events = await history(redis, job_id)
            result.log_problems += log_problems(job_id, events, status)
        result.token_mismatches = await _token_mismatches(db, statuses, payer or {})
        return result
    finally:
        await redis.aclose()
        await db.dispose()


async def statuses(stack: Stack, job_ids: list[str]) -> dict[str, str]:
    db = Database(stack.database_url)
    try:
        return await _statuses(db, job_ids)
    finally:
        await db.dispose()


async def _statuses(db: Database, job_ids: list[str]) -> dict[str, str]:
    async with db.session() as session:
        rows = await session.execute(
            select(Job.id, Job.status).where(Job.id.in_([uuid.UUID(j) for j in job_ids]))
        )
        found = {str(job_id): status for job_id, status in rows}
    return {job_id: found.get(job_id, "missing") for job_id in job_ids}


async def _token_mismatches(db: Database, statuses: dict, payer: dict) -> list[str]:
    spent: Counter = Counter()
    for job_id, guest in payer.items():
        spent[guest] += statuses[job_id] in ("done", "queued", "running")
    wrong = []
    async with db.session() as session:
        for guest, count in spent.items():
            left = (await session.get(GuestSession, uuid.UUID(guest))).tokens
            if left != GUEST_TOKENS - count:
                wrong.append(f"guest {guest}: {left} left, expected {GUEST_TOKENS - count}")
    return wrong


def table(rows: list[dict]) -> str:
    """A Markdown table of audit rows, for the closing note."""
    heads = list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(str(r.get(h, "")) for h in heads) + " |" for r in rows]
    return "\n".join(lines)
