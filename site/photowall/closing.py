"""uvicorn's HTTP protocol, except that a connection whose client left is closed at a pace.

When a client's FIN arrives, uvicorn closes the connection at once, in the loop's I/O phase:
the close and epoll syscalls, `connection_lost`, and the wakeup of the stream that waits on
the client. libuv hands over up to 48 × 1,024 ready sockets per poll, so 10,000 walls left
at once (a proxy restarting) were closed in a few turns of 60-80 ms each, and a request that
needs a few turns waited 100-300 ms. Here the FIN only queues its connection (`eof_received`
keeps the transport open) and CLOSE_PER_TURN queued connections are closed per loop turn:
the same work, spread so that each turn stays short. A queued connection has nothing more to
read, and its client is gone. It waits a second at most (10,000 in ~0.8 s on 2 cores).
"""

from __future__ import annotations

import asyncio
import weakref

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

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
    def eof_received(self) -> bool:
        _queue().add(self.transport)
        return True  # keep the transport: the queue closes it
