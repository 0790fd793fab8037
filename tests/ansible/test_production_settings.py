"""Every production setting flows from vault variables into narcis.env, and a site started from
that file answers its public name and refuses the built-in secret key."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from dotenv import dotenv_values

from core.config import DEFAULT_SECRET_KEY
from core.store.migrate import upgrade
from tests.ansible.test_ansible import run
from tests.helpers import ROOT
from tests.services import free_port

EXPECTED = {
    "NARCIS_SECRET_KEY": "test-secret-key-0123456789abcdef0123456789abcdef",
    "NARCIS_REDIS_URL": 'redis://:r3d!s pa$$ "quoted"@10.0.0.10:6379/0',
    "NARCIS_DATABASE_URL": "postgresql+asyncpg://narcis:pg-secret@10.0.0.10/narcis",
    "NARCIS_S3_BUCKET": "narcis-media",
    "NARCIS_S3_REGION": "us-east-1",
    "NARCIS_S3_ACCESS_KEY": "AKIATEST",
    "NARCIS_S3_SECRET_KEY": "s3-secret",
    "NARCIS_SITE_HOSTS": '["narcis.example"]',
    "NARCIS_SITE_HTTPS": "true",
    "NARCIS_LLM_BASE_URL": "http://10.0.0.20:8080/v1",
    "NARCIS_LLM_API_KEY": "llm-secret",
    "NARCIS_DISCORD_TOKEN": "discord-token",
    "NARCIS_DISCORD_OPERATOR_ROLE_ID": "123456789012345678",
    "NARCIS_WORKBENCH_PASSWORD": "bench-secret",
}


@pytest.fixture(scope="module")
def production_env(tmp_path_factory) -> Path:
    prefix = tmp_path_factory.mktemp("narcis")
    result = run(
        "ansible-playbook",
        "-i",
        "localhost,",
        str(ROOT / "tests/ansible/converge_production.yml"),
        "-e",
        f"narcis_app_prefix={prefix}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return prefix / "narcis.env"


def test_the_production_inventory_writes_every_setting(production_env: Path) -> None:
    values = dotenv_values(production_env)  # quoted as systemd's EnvironmentFile reads them
    for name, value in EXPECTED.items():
        assert values.get(name) == value, name
    assert production_env.stat().st_mode & 0o077 == 0  # secrets: owner only


def _site(env_file: Path, tmp_path: Path, redis_url: str, **override: str) -> subprocess.Popen:
    env = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    database = f"sqlite+aiosqlite:///{tmp_path / 'narcis.db'}"
    upgrade(database)
    # The private services of production are not here: local stand-ins, all else as rendered.
    env |= {
        "PATH": "/usr/bin:/bin",
        "NARCIS_DATA_DIR": str(tmp_path / "var"),
        "NARCIS_REDIS_URL": redis_url,
        "NARCIS_DATABASE_URL": database,
        **override,
    }
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.port = port
    return process


def test_a_site_from_that_file_answers_its_public_name_only(
    production_env: Path, tmp_path: Path, redis_db_url: str
) -> None:
    site = _site(production_env, tmp_path, redis_db_url)
    try:
        url = f"http://127.0.0.1:{site.port}/health"
        deadline = time.monotonic() + 60
        while True:
            try:
                public = httpx.get(url, headers={"Host": "narcis.example"}, timeout=5)
                break
            except httpx.TransportError:
                assert site.poll() is None and time.monotonic() < deadline, site.stderr.read()
                time.sleep(0.3)
        other = httpx.get(url, headers={"Host": "evil.example"}, timeout=5)
    finally:
        site.terminate()
        site.wait(timeout=30)
    assert public.status_code == 200, public.text
    assert other.status_code == 400


def test_a_site_from_that_file_refuses_the_default_key(
    production_env: Path, tmp_path: Path, redis_db_url: str
) -> None:
    site = _site(production_env, tmp_path, redis_db_url, NARCIS_SECRET_KEY=DEFAULT_SECRET_KEY)
    _, stderr = site.communicate(timeout=60)
    assert site.returncode == 1
    assert re.search(r"NARCIS_SECRET_KEY .* narcis\.example", stderr), stderr
