"""Spot interruptions, seen from a GPU host.

The watcher polls instance metadata (IMDSv2: a session token first) every few seconds:
- a rebalance recommendation: the worker stops taking new jobs (SIGTERM: it finishes the
  current one), and `gpu.rebalance` is published;
- an interruption notice (two minutes' warning): the worker hands its job back at once
  (SIGUSR1), `gpu.interrupted` is published, and the watcher exits.
The failover controller on the control host hears those events and provisions a replacement.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis

log = logging.getLogger("narcis.spot")
EVENTS = "narcis:gpu:events"
TOKEN_TTL_S = 300


class WorkerControl:
    """Signals the local worker, by PID or through its systemd unit."""

    def __init__(self, pid: int | None = None, unit: str | None = None) -> None:
        if (pid is None) == (unit is None):
            raise ValueError("give exactly one of a worker PID or a systemd unit")
        self.pid, self.unit = pid, unit

    def send(self, sig: signal.Signals) -> None:
        if self.pid is not None:
            os.kill(self.pid, sig)
        else:
            subprocess.run(["systemctl", "kill", f"--signal={sig.name}", self.unit], check=True)

    def drain(self) -> None:
        self.send(signal.SIGTERM)

    def evacuate(self) -> None:
        self.send(signal.SIGUSR1)


@dataclass
class SpotWatcher:
    metadata_url: str
    redis: Redis
    worker: WorkerControl
    host: str
    poll_s: float = 5.0
    rebalancing: bool = False

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.metadata_url.rstrip("/"), timeout=2.0)
        self._token: tuple[str, float] | None = None

    def notice(self) -> str:
        """ "interruption", "rebalance" or "none", from the instance metadata."""
        headers = {"X-aws-ec2-metadata-token": self._session_token()}
        if (
            self._http.get("/latest/meta-data/spot/instance-action", headers=headers).status_code
            == 200
        ):
            return "interruption"
        rebalance = self._http.get(
            "/latest/meta-data/events/recommendations/rebalance", headers=headers
        )
        return "rebalance" if rebalance.status_code == 200 else "none"

    def _session_token(self) -> str:
        if self._token is None or self._token[1] < time.monotonic():
            response = self._http.put(
                "/latest/api/token",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_S)},
            )
            response.raise_for_status()
            self._token = (response.text, time.monotonic() + TOKEN_TTL_S - 30)
        return self._token[0]

    async def step(self) -> bool:
        """Look once and act; True when the host is going away (the watcher is done)."""
        notice = await asyncio.to_thread(self.notice)
        if notice == "interruption":
            self.worker.evacuate()
            await self.publish("gpu.interrupted")
            return True
        if notice == "rebalance" and not self.rebalancing:
            self.rebalancing = True
            self.worker.drain()
            await self.publish("gpu.rebalance")
        return False

    async def publish(self, kind: str) -> None:
        log.warning("%s on %s", kind, self.host)
        await self.redis.publish(
            EVENTS, json.dumps({"type": kind, "host": self.host, "at": time.time()})
        )

    async def run(self) -> None:
        while not await self.step():
            await asyncio.sleep(self.poll_s)


@dataclass
class GpuController:
    """On the control host: replaces interrupted GPU hosts, up to a maximum fleet size."""

    redis: Redis
    provision: Callable[[int], Awaitable[object]]
    fleet_size: Callable[[], Awaitable[int]]
    max_fleet: int

    async def handle(self, event: dict) -> bool:
        """True when a replacement was asked for."""
        if event.get("type") != "gpu.interrupted":
            return False
        size = await self.fleet_size()
        if size >= self.max_fleet:
            log.warning("fleet at its maximum (%d): no replacement for %s", size, event.get("host"))
            return False
        log.warning("replacing %s", event.get("host"))
        await self.provision(1)
        return True

    async def run(self, stop: asyncio.Event | None = None) -> None:
        async with self.redis.pubsub() as pubsub:
            await pubsub.subscribe(EVENTS)
            while stop is None or not stop.is_set():
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    await self.handle(json.loads(message["data"]))
