"""Clients that leave together are let go a few per loop turn (photowall/closing.py,
photowall/pacing.py), and every one of them is let go."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import uvicorn
from photowall.closing import CLOSE_PER_TURN, PacedCloseProtocol
from photowall.pacing import PerTurn

CLIENTS = 400


def test_work_added_at_once_is_done_in_order_a_batch_per_turn() -> None:
    async def run() -> tuple[list[int], list[int]]:
        done: list[int] = []
        per_turn: list[int] = []
        work = PerTurn(done.append, batch=16)
        for item in range(1000):
            work.add(item)
        while len(done) < 1000:
            before = len(done)
            await asyncio.sleep(0)  # one loop turn
            per_turn.append(len(done) - before)
        return done, per_turn

    done, per_turn = asyncio.run(run())
    assert done == list(range(1000))
    assert max(per_turn) == 16 and len(work_turns := per_turn) >= 1000 // 16, work_turns


def test_an_item_that_fails_does_not_strand_the_rest() -> None:
    async def run() -> list[int]:
        done: list[int] = []

        def handle(item: int) -> None:
            if item == 3:
                raise RuntimeError("a bad item")
            done.append(item)

        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # the error is reported there
        work = PerTurn(handle, batch=2)
        for item in range(10):
            work.add(item)
        for _ in range(20):
            await asyncio.sleep(0)
        return done

    assert asyncio.run(run()) == [0, 1, 2, 4, 5, 6, 7, 8, 9]


async def _until_disconnect(scope, receive, send) -> None:
    """A stream that sends its headers and waits for its client to leave, as a wall does."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while (await receive())["type"] != "http.disconnect":
        pass
    _left.append(time.perf_counter())


_left: list[float] = []


async def _leave_together() -> tuple[list[int], int]:
    """How many clients the server saw leave in each loop turn, when CLIENTS close at once."""
    _left.clear()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_until_disconnect, http=PacedCloseProtocol, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.01)
    port = listener.getsockname()[1]
    clients = []
    for _ in range(CLIENTS):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await reader.readline()
        clients.append(writer)
    for writer in clients:  # FINs sent before the server's next turn: they all arrive at once
        writer.write_eof()
    per_turn, seen = [], 0
    deadline = time.monotonic() + 30
    while seen < CLIENTS and time.monotonic() < deadline:
        await asyncio.sleep(0)
        per_turn.append(len(_left) - seen)
        seen = len(_left)
    still_open = len(server.server_state.connections)
    for writer in clients:
        writer.close()
    server.should_exit = True
    await serving
    return per_turn, still_open


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_clients_leaving_together_are_let_go_a_few_per_turn(loop) -> None:
    runner = asyncio.run if loop == "asyncio" else _uvloop_run
    per_turn, still_open = runner(_leave_together())
    assert sum(per_turn) == CLIENTS and still_open == 0  # every client was let go
    # The news of a batch's close reaches its stream a turn or two later: two batches can
    # meet in one turn. Closed where their FINs arrive, hundreds met in one turn.
    assert max(per_turn) <= 2 * CLOSE_PER_TURN, max(per_turn)


def _uvloop_run(coroutine):
    import uvloop

    return uvloop.run(coroutine)


async def _serving(app) -> tuple[uvicorn.Server, asyncio.Task, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=PacedCloseProtocol, log_level="warning")
    config.timeout_graceful_shutdown = 30  # longer than the tests wait: a hang fails them
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.01)
    return server, serving, listener.getsockname()[1]


STREAM = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


async def _left_behind_a_pipelined_request() -> list[float]:
    """A stream with a second request pipelined behind it, then the client leaves."""
    _left.clear()
    server, serving, port = await _serving(_until_disconnect)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(STREAM)
    await reader.readline()  # the stream is open
    writer.write(STREAM)  # queued by uvicorn behind it, and now its `cycle`
    await asyncio.sleep(0.2)
    writer.close()
    deadline = time.monotonic() + 5
    while not _left and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    server.should_exit = True
    await serving
    return list(_left)


def test_a_stream_hears_its_client_leave_behind_a_pipelined_request() -> None:
    # uvicorn told only the queued request: the stream kept running, and wrote into a
    # closed transport at its next keep-alive ("Exception in ASGI application").
    assert len(asyncio.run(_left_behind_a_pipelined_request())) == 1


async def _shut_down_with_streams_open() -> tuple[float, int]:
    _left.clear()
    server, serving, port = await _serving(_until_disconnect)
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(STREAM)
        await reader.readline()
    started = time.monotonic()
    server.should_exit = True
    await asyncio.wait_for(serving, 20)
    return time.monotonic() - started, len(_left)


def test_a_shutdown_ends_open_streams_at_once() -> None:
    # uvicorn waited for every open response: a stream held the restart until systemd's kill.
    took, ended = asyncio.run(_shut_down_with_streams_open())
    assert ended == 20 and took < 10, (took, ended)


def test_a_client_that_half_closes_is_closed_by_the_server(server) -> None:
    """A FIN keeps the connection open only until its turn: it is never left half-open."""
    port = int(server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(b"GET /events/wall HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert client.recv(4096).startswith(b"HTTP/1.1 200")
        client.shutdown(socket.SHUT_WR)
        while chunk := client.recv(4096):  # the server's FIN ends this (a timeout fails it)
            assert chunk.startswith((b":", b"event:", b"0\r\n")), chunk
