"""uvicorn's HTTP protocol, except that a connection whose client left is closed at a pace.

When a client's FIN arrives, uvicorn closes the connection at once, in the loop's I/O phase:
the close and epoll syscalls, `connection_lost`, and the wakeup of the stream that waits on
the client. libuv hands over up to 48 × 1,024 ready sockets per poll, so 10,000 walls left
at once (a proxy restarting) were closed in a few turns of 60-80 ms each, and a request that
needs a few turns waited 100-300 ms. Here the FIN only queues its connection (`eof_received`
keeps the transport open) and CLOSE_PER_TURN queued connections are closed per loop turn:
the same work, spread so that each turn stays short. A queued connection has nothing more to
read, and its client is gone. It waits a second at most (10,000 in ~0.6 s on 2 cores). A
connection with no response running has no stream to wake, and is closed at once.
"""

from __future__ import annotations

import asyncio
import weakref

from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from photowall.pacing import PerTurn

CLOSE_PER_TURN = 16

# One queue per event loop: uvicorn runs one loop per server process; a queue is used only
# from its own loop's thread.
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, PerTurn[asyncio.Transport]] = (
    weakref.WeakKeyDictionary()
)


def _queue() -> PerTurn[asyncio.Transport]:
    loop = asyncio.get_running_loop()
    if loop not in _queues:
        _queues[loop] = PerTurn(lambda transport: transport.close(), CLOSE_PER_TURN)
    return _queues[loop]


class PacedCloseProtocol(HttpToolsProtocol):
    """Also mends two ways uvicorn 0.55 leaves a stream running with nobody to read it:
    a request pipelined behind the stream takes its place as `self.cycle`, and only that
    one hears that the client left; and a shutdown waits for every open response, which
    a stream never ends, until the process is killed."""

    _running: RequestResponseCycle | None = None  # the cycle whose task runs now

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def eof_received(self) -> bool | None:
        running = self._running
        if running is None or running.response_complete:
            return None  # no response to wake: closed now, as uvicorn does
        _queue().add(self.transport)
        return True  # keep the transport: the queue closes it

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        running = self._running
        if running is not None and running is not self.cycle and not running.response_complete:
            _tell_gone(running)

    def shutdown(self) -> None:
        running = self._running
        if running is not None and running.response_started and not running.response_complete:
            _tell_gone(running)  # a stream: it ends, and its connection is closed
            _queue().add(self.transport)
        else:
            super().shutdown()  # none, or one still being answered: it finishes


def _tell_gone(cycle: RequestResponseCycle) -> None:
    """What uvicorn does for the cycle it knows of when the client leaves."""
    cycle.disconnected = True
    cycle.message_event.set()
