"""What one client can try and make us keep (issue 23), against a running `narcis serve`:
guessing passwords never locks the owner out, and X-Forwarded-For counts only from the
configured proxy."""

from __future__ import annotations

import re

import httpx
import pytest

PROXIED = {"NARCIS_SITE_PROXIES": '["127.0.0.1"]'}


def _post(url: str, path: str, form: dict[str, str], address: str = "192.0.2.1") -> int:
    """One form sent from a fresh cookie jar (its token read first), through the proxy."""
    headers = {"x-forwarded-for": address}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as http:
        token = re.search(r'name="_csrf_token" value="([^"]+)"', http.get("/login").text)[1]
        return http.post(path, data={**form, "_csrf_token": token}).status_code


def _login(url: str, password: str, address: str) -> int:
    return _post(url, "/login", {"email": "ada@example.org", "password": password}, address)


def _sign_up(url: str) -> None:
    assert _post(url, "/signup", {"email": "ada@example.org", "password": "long enough"}) == 303


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("server_env", [PROXIED])
def test_an_attackers_50_wrong_passwords_leave_the_owner_able_to_log_in(server) -> None:
    _sign_up(server)
    one_address = [_login(server, f"guess {n}", "203.0.113.9") for n in range(30)]
    assert one_address.count(400) == 5 and set(one_address[5:]) == {429}  # tries stay slow
    many = [_login(server, f"guess {n}", f"198.51.100.{n}") for n in range(20)]  # 50 in all
    assert set(many) == {400}
    assert _login(server, "long enough", "192.0.2.7") == 303  # was: locked out for 15 min
    assert _login(server, "long enough", "203.0.113.9") == 429  # the guesser's address stays


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_x_forwarded_for_counts_only_from_the_configured_proxy(server) -> None:
    spoofed = [
        _post(server, "/login", {"email": f"x{n}@example.org", "password": "guess"}, f"10.0.0.{n}")
        for n in range(11)
    ]
    assert spoofed == [400] * 10 + [429]  # was: a fresh address, so fresh limits, per request
