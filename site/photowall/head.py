"""HEAD answered as GET without its body: load balancers and uptime checks use HEAD, and
Litestar's GET routes alone answer it 405. A stream (SSE) ends once its headers are out."""

from __future__ import annotations

import asyncio

from litestar.types import ASGIApp, Message, Receive, Scope, Send


class HeadMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        started, finished, asked = asyncio.Event(), False, False

        async def receive_head() -> Message:
            nonlocal asked
            if not asked:  # the (empty) request body
                asked = True
                return await receive()
            await started.wait()
            return {"type": "http.disconnect"}  # a streaming response stops here

        async def send_head(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start":
                started.set()
                await send(message)
            elif message["type"] == "http.response.body" and not finished:
                finished = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive_head, send_head)
