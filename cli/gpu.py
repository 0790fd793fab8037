"""`narcis spot-watch` (on GPU hosts) and `narcis gpu-controller` (on the control host)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path
from typing import Annotated

import typer

from cli.common import settings

ANSIBLE = Path(__file__).resolve().parents[1] / "ansible"


def spot_watch(
    metadata_url: Annotated[str, typer.Option(help="instance metadata")] = "http://169.254.169.254",
    worker_pid: Annotated[int | None, typer.Option(help="the worker's PID")] = None,
    worker_unit: Annotated[str | None, typer.Option(help="or its systemd unit")] = None,
    poll: Annotated[float, typer.Option(min=0.1, help="seconds between looks")] = 5.0,
) -> None:
    """Watch for spot interruptions; drain or evacuate the local worker in time."""
    from redis.asyncio import Redis

    from core.jobs.spot import SpotWatcher, WorkerControl
    from core.logs import configure_json_logging

    configure_json_logging()
    control = WorkerControl(pid=worker_pid, unit=worker_unit)
    watcher = SpotWatcher(
        metadata_url, Redis.from_url(settings().redis_url), control, socket.gethostname(), poll
    )
    asyncio.run(watcher.run())


def gpu_controller(
    max_fleet: Annotated[int, typer.Option(min=1, help="never more GPU hosts than this")] = 4,
) -> None:
    """Replace interrupted GPU hosts through the same failover logic (ansible/failover.yml)."""
    from redis.asyncio import Redis

    from core.jobs.spot import GpuController
    from core.logs import configure_json_logging

    configure_json_logging()
    config = settings()

    async def provision(count: int) -> None:
        await asyncio.to_thread(
            subprocess.run,
            ["ansible-playbook", "failover.yml", "-e", f"narcis_gpu_count={count}"],
            cwd=ANSIBLE,
            check=True,
        )

    async def fleet_size() -> int:
        import sys

        import boto3

        sys.path.insert(0, str(ANSIBLE / "plugins" / "module_utils"))
        from narcis_capacity import fleet_size as count

        return await asyncio.to_thread(count, boto3.client("ec2"), "narcis")

    controller = GpuController(Redis.from_url(config.redis_url), provision, fleet_size, max_fleet)
    asyncio.run(controller.run())
