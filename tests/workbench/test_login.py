"""The workbench's password page is throttled per client address and per user name, as the
site's login is, and a wrong password is an answer, never a traceback."""

from __future__ import annotations

import httpx
import pytest

from tests.services import free_port
from tests.workbench.test_app import PASSWORD
from workbench import login
from workbench.login import LoginLimits


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_failures_lock_one_user_for_the_window_and_attempts_one_address_for_a_minute():
    clock = Clock()
    limits = LoginLimits(attempts_per_minute=10, failures_per_user=3, window_s=900, clock=clock)
    for _ in range(3):
        assert limits.attempt("1.1.1.1", "operator") is None
        limits.outcome("operator", ok=False)
    assert limits.attempt("2.2.2.2", "Operator") == (
        "too many failed logins for Operator; wait 15 minutes"
    )  # from any address, whatever the case
    assert limits.attempt("2.2.2.2", "someone") is None
    clock.now = 900
    assert limits.attempt("2.2.2.2", "operator") is None  # the window is over
    refused = [limits.attempt("3.3.3.3", f"user{i}") for i in range(11)]
    assert refused[:10] == [None] * 10
    assert refused[10] == "too many login attempts from here; wait a minute"
    clock.now += 60
    assert limits.attempt("3.3.3.3", "user0") is None


def test_a_success_clears_the_users_failures_and_the_tables_are_bounded(monkeypatch):
    monkeypatch.setattr(login, "MAX_KEYS", 50)
    limits = LoginLimits(attempts_per_minute=10**6, failures_per_user=2, clock=Clock())
    limits.outcome("operator", ok=False)
    limits.outcome("operator", ok=True)
    limits.outcome("operator", ok=False)
    assert limits.attempt("1.1.1.1", "operator") is None
    for i in range(500):
        limits.attempt(f"10.0.{i // 256}.{i % 256}", f"guess{i}")
        limits.outcome(f"guess{i}", ok=False)
    assert len(limits._attempts._windows) <= 50 and len(limits._failures._windows) <= 50


@pytest.fixture
def guarded_url(portrait_pipeline, tmp_path):
    from core.config import load_settings
    from workbench.app import launch
    from workbench.engine import Workbench

    settings = load_settings(data_dir=tmp_path, workbench_password=PASSWORD)
    limits = LoginLimits(attempts_per_minute=6, failures_per_user=3)
    port = free_port()
    demo = launch(
        settings, Workbench(settings, portrait_pipeline), "127.0.0.1", port, False, limits
    )
    yield f"http://127.0.0.1:{port}"
    demo.close()


def test_the_login_page_refuses_guessers_with_429_and_no_traceback(guarded_url, capfd) -> None:
    def log_in(user: str, password: str) -> httpx.Response:
        form = {"username": user, "password": password}
        return httpx.post(f"{guarded_url}/login", data=form, timeout=10)

    wrong = [log_in("operator", "guess") for _ in range(3)]
    assert [r.status_code for r in wrong] == [400, 400, 400]
    locked = log_in("operator", PASSWORD)  # even the right password, until the window ends
    assert locked.status_code == 429
    assert locked.json()["detail"] == "too many failed logins for operator; wait 15 minutes"
    assert log_in("other", "guess").status_code == 400
    flood = log_in("another", "guess")  # the address's 6th attempt is its last this minute
    assert flood.status_code == 400
    assert log_in("operator", PASSWORD).json()["detail"].startswith("too many login attempts")
    output = capfd.readouterr()
    assert "Traceback" not in output.out + output.err
