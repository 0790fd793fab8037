"""A real HTTP server speaking the chat-completions protocol, with scripted behaviours."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.prompt.result import CATEGORIES


def good_reply(payload: dict) -> str:
    shape = payload["answer_shape"]
    if "concept" in shape:
        return json.dumps(
            {
                "concept": f"A portrait of {payload['idea']}, crowned in gold light, "
                "gazing out of a glittering mosaic apse."
            }
        )
    if "keywords" in shape:
        return json.dumps(
            {"keywords": {c: [f"{c} word {i}" for i in range(5)] for c in CATEGORIES}}
        )
    return json.dumps(
        {
            "chosen": [
                "golden crown",
                "mosaic apse",
                "imperial purple",
                "solemn gaze",
                "gold leaf",
                "candlelight",
            ],
            "negative": ["modern clothes"],
        }
    )


class ChatServer:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[dict] = []

    def respond(self, body: dict) -> tuple[int, str]:
        self.requests.append(body)
        payload = json.loads(body["messages"][-1]["content"])
        content = {
            "good": lambda: good_reply(payload),
            "malformed": lambda: "Sure! Here is your JSON: {concept: gold",
            "schema": lambda: json.dumps({"concept": 42, "keywords": "none"}),
        }.get(self.behaviour)
        if self.behaviour == "error":
            return 500, json.dumps({"error": {"message": "model overloaded"}})
        if self.behaviour == "slow":
            time.sleep(1.5)
            content = lambda: good_reply(payload)  # noqa: E731
        reply = {
            "id": "x",
            "object": "chat.completion",
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content()},
                }
            ],
        }
        return 200, json.dumps(reply)


@contextmanager
def chat_server(behaviour: str) -> Iterator[tuple[str, ChatServer]]:
    state = ChatServer(behaviour)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            status, text = state.respond(json.loads(self.rfile.read(length)))
            data = text.encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout case)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", state
    finally:
        server.shutdown()
        server.server_close()
