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
def server_env() -> dict[str, str]:
    """Settings a test adds to its server's (override by parametrizing `server_env`)."""
    return {}


@pytest.fixture
def server(stack, server_env):
    yield from _serve(stack, "web.log", server_env)


@pytest.fixture
def second_server(stack, server, server_env):
    """Another `narcis serve` process beside `server`, sharing its Redis and database."""
    yield from _serve(stack, "web2.log", server_env)


def _serve(stack, log: str, server_env: dict[str, str]):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = stack.env(
        NARCIS_SITE_UPLOADS_PER_MINUTE="100",
        NARCIS_SITE_FREE_STARTS_PER_DAY="100",
        NARCIS_SITE_ORIGIN=url,
        # This checkout's photowall, not whichever one the virtualenv installed.
        PYTHONPATH=f"{ROOT}:{ROOT / 'site'}",
        **server_env,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(stack.root / log).open("wb"),
    )
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
