"""Spot interruptions against a fake instance-metadata server on 127.0.0.1, with real workers,
a real Redis queue and the failover controller."""

import asyncio
import json
import subprocess
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from redis.asyncio import Redis

from core.jobs.spot import EVENTS, GpuController, SpotWatcher, WorkerControl
from tests.core.jobs.test_worker import SLOW, finish, rows, submit
from tests.stack import wait_for_step

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TOKEN = "imds-session-token"


@contextmanager
def metadata_server():
    state = {"action": None, "rebalance": None, "token_requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            ok = self.path == "/latest/api/token" and self.headers.get(
                "X-aws-ec2-metadata-token-ttl-seconds"
            )
            state["token_requests"] += 1
            self._answer(200 if ok else 400, TOKEN if ok else "")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
                self._answer(401, "")
                return
            body = {
                "/latest/meta-data/spot/instance-action": state["action"],
                "/latest/meta-data/events/recommendations/rebalance": state["rebalance"],
            }.get(self.path)
            self._answer(200 if body else 404, json.dumps(body) if body else "")

        def _answer(self, status: int, text: str) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", state
    finally:
        server.shutdown()
        server.server_close()


async def published(redis_url: str, work) -> list[dict]:
    """Run `work` while listening to the GPU events channel; the events heard."""
    redis = Redis.from_url(redis_url)
    heard = []
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(EVENTS)
        await work()
        for _ in range(20):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message:
                heard.append(json.loads(message["data"]))
    await redis.aclose()
    return heard


def test_no_notice_means_nothing_happens(stack) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    with metadata_server() as (url, state):

        async def go():
            watcher = SpotWatcher(
                url,
                Redis.from_url(stack.redis_url),
                WorkerControl(pid=sleeper.pid),
                "gpu-1",
                poll_s=0.1,
            )
            assert await watcher.step() is False
            assert await watcher.step() is False

        heard = stack.run(published(stack.redis_url, go))
    assert heard == [] and sleeper.poll() is None and state["token_requests"] == 1
    sleeper.kill()


def test_rebalance_stops_the_worker_taking_jobs(stack) -> None:
    worker = stack.start_worker()
    stack.run(asyncio.sleep(0))
    import time

    deadline = time.monotonic() + 60
    while "ready" not in stack.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    with metadata_server() as (url, state):
        state["rebalance"] = {"noticeTime": "2026-11-27T12:00:00Z"}

        async def go():
            watcher = SpotWatcher(
                url, Redis.from_url(stack.redis_url), WorkerControl(pid=worker.pid), "gpu-1"
            )
            assert await watcher.step() is False  # drained, still running for its job
            assert await watcher.step() is False  # told once only

        heard = stack.run(published(stack.redis_url, go))
    assert [e["type"] for e in heard] == ["gpu.rebalance"]
    assert worker.wait(timeout=60) == 0  # no job: it simply stops


def test_interruption_hands_the_job_back_and_the_controller_replaces_the_host(stack, astronaut):
    job_id = stack.run(submit(stack, astronaut, params=SLOW))
    first = stack.start_worker()

    stack.run(wait_for_step(stack, job_id, 1))
    asked: list[int] = []

    async def provision(count: int) -> None:
        asked.append(count)

    async def fleet_size() -> int:
        return 1

    with metadata_server() as (url, state):
        state["action"] = {"action": "terminate", "time": "2026-11-27T12:02:00Z"}

        async def go():
            controller = GpuController(Redis.from_url(stack.redis_url), provision, fleet_size, 4)
            stop = asyncio.Event()
            listening = asyncio.create_task(controller.run(stop))
            await asyncio.sleep(0.3)
            watcher = SpotWatcher(
                url, Redis.from_url(stack.redis_url), WorkerControl(pid=first.pid), "gpu-1"
            )
            done = await watcher.step()
            await asyncio.sleep(1.0)
            stop.set()
            await listening
            return done

        assert stack.run(go()) is True
    assert first.wait(timeout=60) == 0
    assert "handed back to the queue: the host is being interrupted" in stack.logs()
    assert asked == [1]  # one replacement
    stack.start_worker()
    events, status = stack.run(finish(stack, job_id, timeout=240))
    assert events[-1].type == "done" and status.status == "done", stack.logs()
    assert [e.type for e in events].count("done") == 1
    count, job, _ = stack.run(rows(stack, job_id))
    assert count == 1 and job.attempts == 2


def test_the_controller_respects_the_maximum_fleet(stack) -> None:
    asked = []

    async def provision(count: int) -> None:
        asked.append(count)

    async def full() -> int:
        return 4

    async def go():
        controller = GpuController(Redis.from_url(stack.redis_url), provision, full, 4)
        replaced = await controller.handle({"type": "gpu.interrupted", "host": "gpu-9"})
        ignored = await controller.handle({"type": "gpu.rebalance", "host": "gpu-9"})
        return replaced, ignored

    assert stack.run(go()) == (False, False) and asked == []
