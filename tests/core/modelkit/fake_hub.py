"""A local HTTP server that behaves like the model hub and a GitHub release download.

`/<repo>/resolve/<revision>/<path>` answers 302 to `/cdn/<sha256>` with the hub's
`X-Linked-Size` and `X-Linked-Etag` headers (only for the pinned revision: any other is a 404);
`/release/<name>` serves a release asset through a redirect too. The content URL honours
Range (206, or 416 with `bytes */<size>` when nothing is left) and can be told to end the
connection early a number of times, or to serve other bytes than it advertises.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FakeHub:
    files: dict[str, bytes] = field(default_factory=dict)  # "<repo>@<rev>/<path>" → bytes
    assets: dict[str, bytes] = field(default_factory=dict)  # release asset name → bytes
    early_closes: int = 0  # the next N content responses stop halfway
    corrupt: set[str] = field(default_factory=set)  # digests served with one byte flipped
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def add(self, repo: str, revision: str, path: str, data: bytes) -> None:
        self.files[f"{repo}@{revision}/{path}"] = data

    def blob(self, digest: str) -> bytes | None:
        for data in (*self.files.values(), *self.assets.values()):
            if hashlib.sha256(data).hexdigest() == digest:
                return data
        return None


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        hub = self.hub
        hub.requests.append(f"{self.path} {self.headers.get('Range', '')}".strip())
        if self.path.startswith("/cdn/"):
            return self._content(self.path.removeprefix("/cdn/"))
        if self.path.startswith("/release/"):
            data = hub.assets.get(self.path.removeprefix("/release/"))
            return self._redirect(data, linked=False)
        parts = self.path.lstrip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._status(404)
        repo, revision, path = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        return self._redirect(hub.files.get(f"{repo}@{revision}/{path}"), linked=True)

    def _redirect(self, data: bytes | None, linked: bool) -> None:
        if data is None:
            return self._status(404)
        digest = hashlib.sha256(data).hexdigest()
        self.send_response(302)
        self.send_header("Location", f"/cdn/{digest}")
        if linked:
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("X-Linked-Etag", f'"{digest}"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _content(self, digest: str) -> None:
        hub, data = self.hub, self.hub.blob(digest)
        if data is None:
            return self._status(404)
        if digest in hub.corrupt:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        wanted = self.headers.get("Range")
        if wanted:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if hub.early_closes > 0:
            hub.early_closes -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None
        self.wfile.write(body)
        return None

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextmanager
def running_hub(hub: FakeHub) -> Iterator[FakeHub]:
    handler = type("Handler", (_Handler,), {"hub": hub})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
