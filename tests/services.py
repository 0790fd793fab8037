"""Real services for tests, started on free loopback ports and stopped when done."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


AOF = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")


class RedisServer:
    """A redis-server that a test can kill -9, restart on the same port and data folder, or
    restart with its append-only file deleted (a Redis that lost everything)."""

    def __init__(self, folder: Path, port: int | None = None, aof: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/setup.sh")
        self.binary, self.folder, self.port = binary, folder, port or free_port()
        self.persistence = list(AOF) if aof else ["--appendonly", "no", "--save", ""]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        options = ["--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.folder)]
        options += ["--daemonize", "no", "--loglevel", "warning", *self.persistence]
        self.process = subprocess.Popen([self.binary, *options], stdout=subprocess.DEVNULL)
        _wait_for_port(self.port, self.process)

    def kill(self) -> None:
        """kill -9: no shutdown, no final save."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def forget(self) -> None:
        """Delete the data on disk (run while stopped): the next start is empty."""
        for path in self.folder.iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


@contextmanager
def running_redis(
    folder: Path, port: int | None = None, extra: list[str] | None = None
) -> Iterator[str]:
    server = RedisServer(folder, port)
    if extra is not None:
        server.persistence = extra
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


PG_BIN = Path("/usr/lib/postgresql")


class PostgresServer:
    """A throw-away PostgreSQL cluster on a free loopback port, owned by the postgres user
    (initdb refuses to run as root), that a test can stop and start again."""

    def __init__(self) -> None:
        versions = sorted(PG_BIN.glob("*/bin/initdb"))
        if not versions:
            raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh")
        self.bin = versions[-1].parent
        self.folder = Path(tempfile.mkdtemp(prefix="narcis-pg-"))
        if _is_root():
            shutil.chown(self.folder, "postgres", "postgres")
        self.data, self.port = self.folder / "data", free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if _is_root() else []
        self.server: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://narcis@127.0.0.1:{self.port}/narcis"

    def create(self) -> None:
        initdb = [str(self.bin / "initdb"), "-D", str(self.data), "-U", "narcis"]
        subprocess.run(
            [*self.as_postgres, *initdb, "--auth=trust", "-E", "UTF8"],
            check=True,
            capture_output=True,
        )
        self.start()
        createdb = [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port)]
        subprocess.run([*createdb, "-U", "narcis", "narcis"], check=True, capture_output=True)

    def start(self) -> None:
        options = ["-D", str(self.data), "-p", str(self.port), "-c", "listen_addresses=127.0.0.1"]
        options += ["-c", f"unix_socket_directories={self.folder}", "-c", "fsync=off"]
        options += ["-c", "max_connections=200"]
        self.server = subprocess.Popen(
            [*self.as_postgres, str(self.bin / "postgres"), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.server, timeout=30)
        _wait_for_postgres(self.bin, self.folder, self.port)

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as when the server goes away."""
        if self.server is not None and self.server.poll() is None:
            # runuser does not pass SIGINT on: signal the postmaster itself
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
            os.kill(postmaster, signal.SIGINT)
            self.server.wait(timeout=30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def running_postgres() -> Iterator[str]:
    server = PostgresServer()
    try:
        server.create()
        yield server.url
    finally:
        server.remove()


def _wait_for_postgres(bin_dir: Path, folder: Path, port: int) -> None:
    for _ in range(100):
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not become ready")


def _is_root() -> bool:
    return os.geteuid() == 0
