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
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = stack.env(
        NARCIS_SITE_UPLOADS_PER_MINUTE="100",
        NARCIS_SITE_FREE_STARTS_PER_DAY="100",
        NARCIS_SITE_ORIGIN=url,
        **server_env,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(stack.root / "web.log").open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError((stack.root / "web.log").read_text())
    yield url
    process.terminate()
    process.wait(timeout=20)
