"""Real services for tests, started on free loopback ports and stopped when done."""

from __future__ import annotations

import shutil
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


@contextmanager
def running_redis(
    folder: Path, port: int | None = None, extra: list[str] | None = None
) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run scripts/setup.sh")
    port = port or free_port()
    options = [
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]
    persistence = extra or ["--appendonly", "no", "--save", ""]
    process = subprocess.Popen([binary, *options, *persistence], stdout=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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


@contextmanager
def running_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL cluster on a free loopback port, owned by the postgres user
    (initdb refuses to run as root)."""
    versions = sorted(PG_BIN.glob("*/bin/initdb"))
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh")
    bin_dir = versions[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="narcis-pg-"))
    if _is_root():
        shutil.chown(folder, "postgres", "postgres")
    data = folder / "data"
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if _is_root() else []
    subprocess.run(
        [
            *as_postgres,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "narcis",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [
            *as_postgres,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={folder}",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=200",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, server, timeout=30)
        _wait_for_postgres(bin_dir, folder, port)
        subprocess.run(
            [
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "narcis",
                "narcis",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://narcis@127.0.0.1:{port}/narcis"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


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
    import os

    return os.geteuid() == 0
