"""`narcis serve` and `narcis bot` never face other machines with the built-in secret key."""

from pathlib import Path

import pytest

from core.config import is_loopback, load_settings, require_real_secret
from core.errors import ConfigError
from tests.helpers import run_narcis


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.5", "::", "photos.example.org"])
def test_serve_refuses_the_default_key_off_loopback(host: str, tmp_path: Path) -> None:
    result = run_narcis("serve", "--host", host, data=tmp_path / "var")
    assert result.returncode != 0
    assert "NARCIS_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_bot_refuses_the_default_key_against_a_remote_queue(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {
        "PATH": "/usr/bin:/bin",
        "NARCIS_DATA_DIR": str(tmp_path / "var"),
        "NARCIS_DISCORD_TOKEN": "x",
        "NARCIS_REDIS_URL": "redis://:pw@10.0.0.2:6379/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "bot"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode != 0 and "NARCIS_SECRET_KEY" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_loopback_and_a_real_key_are_fine(data_dir, monkeypatch) -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "narcis.ai"))
    require_real_secret(load_settings(), "127.0.0.1")
    with pytest.raises(ConfigError):
        require_real_secret(load_settings(), "0.0.0.0")
    monkeypatch.setenv("NARCIS_SITE_HOSTS", '["narcis.example"]')  # loopback behind a proxy
    with pytest.raises(ConfigError, match=r"serving narcis\.example"):
        require_real_secret(load_settings(), "127.0.0.1", *load_settings().site_hosts)
    monkeypatch.setenv("NARCIS_SECRET_KEY", "a" * 64)
    require_real_secret(load_settings(), "0.0.0.0")


def test_serve_refuses_an_unmigrated_database_in_one_line(tmp_path: Path) -> None:
    result = run_narcis("serve", "--port", "1", data=tmp_path / "var")  # was: started, all 503
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "narcis: error: the database is empty: run `narcis db upgrade`"
    ]


def test_serve_names_a_database_one_migration_behind(tmp_path: Path) -> None:
    from core.store.migrate import head, schema_problem, upgrade

    data = tmp_path / "var"
    data.mkdir()
    upgrade(f"sqlite+aiosqlite:///{data / 'narcis.db'}", "0004_faces")
    result = run_narcis("serve", "--port", "1", data=data)
    assert result.returncode != 0 and "narcis db upgrade" in result.stderr
    assert f"this code needs {head()}" in result.stderr
    assert schema_problem(head()) is None
