"""Fixtures for the site's tests against a running server."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import ROOT
from tests.services import free_port


@pytest.fixture
def server(stack):
    yield from _serve(stack, "web.log")


@pytest.fixture
def second_server(stack, server):
    """Another `narcis serve` process beside `server`, sharing its Redis and database."""
    yield from _serve(stack, "web2.log")


def _serve(stack, log: str):
    port = free_port()
    # This checkout's photowall, not whichever one the virtualenv installed.
    env = stack.env(NARCIS_SITE_UPLOADS_PER_MINUTE="100", PYTHONPATH=f"{ROOT}:{ROOT / 'site'}")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(stack.root / log).open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError((stack.root / log).read_text())
    yield url
    process.terminate()
    process.wait(timeout=20)
