"""Server-sent events at the ASGI level: an open stream is its task and a task that watches
for the client leaving; closing it costs a few callbacks.

Litestar's `ServerSentEvent` runs every stream in an anyio task group. When a client leaves,
cancelling that group formats the task's repr into the cancel reason and delivers the
cancel again on later loop turns: ~60 µs of the event loop per stream, so 10,000 walls
closing at once held the loop, and every other visitor, for 0.8 s. Here the watcher's
done-callback tells the stream (`leave`), whose chunks then end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from litestar.types import Receive, Send

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"connection", b"keep-alive"),
    (b"x-accel-buffering", b"no"),  # a proxy in front must not hold the events back
]
KEEP_ALIVE = b": keep-alive\r\n\r\n"


def event(name: str, data: str) -> bytes:
    """One event; each line of `data` is a `data:` field of its own, as the format wants."""
    lines = "".join(f"data: {line}\r\n" for line in data.splitlines() or [""])
    return f"event: {name}\r\n{lines}\r\n".encode()


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass  # the (empty) body of the GET


async def stream(
    receive: Receive,
    send: Send,
    chunks: AsyncIterator[bytes],
    leave: Callable[[asyncio.Future], None],
) -> None:
    """Send `chunks` as an event stream until they end. `leave` is called when the client
    goes away, and must make `chunks` end soon after (a HEAD's client "leaves" at once)."""
    # New messages each time: `before_send` hooks replace a message's headers in place.
    await send({"type": "http.response.start", "status": 200, "headers": list(HEADERS)})
    watcher = asyncio.ensure_future(until_disconnect(receive))
    watcher.add_done_callback(leave)
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        watcher.remove_done_callback(leave)
        watcher.cancel()
    # A no-op once the client has gone (uvicorn drops it); a HEAD's response ends here.
    await send({"type": "http.response.body", "body": b"", "more_body": False})
