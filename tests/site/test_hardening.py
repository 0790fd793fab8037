"""Staying up and saying no properly (issue 14): security headers, our own 500 page with a
logged traceback, odd paths, decompression bombs, bounded caches, hidden portraits, consent."""

from __future__ import annotations

import io
import logging
import re
import struct
import time
import uuid
import zlib

import pytest
import redis
from photowall.wall import NEW_CHANNEL, Wall
from PIL import Image
from sqlalchemy import update

from core.store.models import Portrait
from tests.site.client import png
from tests.site.seed import seed_portraits
from tests.site.test_erase import job_id, new_browser
from tests.site.test_sessions import add_account, log_in


def text_bomb_png(inflated: int = 100 * 2**20) -> bytes:
    """A small, valid PNG whose zTXt chunk inflates to `inflated` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    buffer = io.BytesIO()
    Image.new("RGB", (128, 128)).save(buffer, format="PNG")
    plain = buffer.getvalue()
    bomb = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a" * inflated, 9))
    return plain[:33] + bomb + plain[33:]  # right after IHDR


@pytest.mark.parametrize("path", ["/", "/static/css/site.css", "/nope", "/health", "/make"])
def test_every_response_carries_the_security_headers(site, path) -> None:
    headers = site.http.get(path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in headers  # plain HTTP: HSTS would mean nothing


def test_hsts_is_sent_when_the_site_is_served_over_https(site, monkeypatch) -> None:
    from litestar.testing import TestClient
    from photowall.app import create_app

    from core.config import load_settings

    monkeypatch.setenv("NARCIS_SITE_HTTPS", "true")
    with TestClient(app=create_app(load_settings()), base_url="https://127.0.0.1") as client:
        assert "max-age=" in client.get("/health").headers["strict-transport-security"]


def test_a_server_error_is_logged_and_shown_as_our_own_page(site, monkeypatch) -> None:
    async def broken(self, cursor, query):
        raise RuntimeError("the database fell over")

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("photowall").addHandler(handler)
    monkeypatch.setattr(Wall, "page", broken)
    try:
        response = site.http.get("/?q=emperor")
        for _ in range(50):  # the log goes through a queue listener thread
            if records:
                break
            time.sleep(0.02)
    finally:
        logging.getLogger("photowall").removeHandler(handler)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "Something went wrong on our side" in response.text and "narcis" in response.text
    assert records and records[0].exc_info[0] is RuntimeError
    assert "GET /" in records[0].getMessage()


def test_a_nul_byte_in_a_static_path_is_a_plain_404(site) -> None:
    response = site.http.get("/static/css/site.css%00.txt")
    assert response.status_code == 404 and "Nothing here" in response.text


def test_a_png_text_chunk_bomb_is_refused_with_a_clear_message(site) -> None:
    response = site.make([("bomb.png", text_bomb_png())])
    assert response.status_code == 400
    assert "photo 1 (bomb.png) carries a metadata chunk that is too large" in response.text


def test_only_cursors_the_site_handed_out_are_cached(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 30))
    issued = re.search(r"cursor=([0-9a-f-]{36})", site.http.get("/").text)[1]
    site.http.get(f"/?cursor={issued}", headers={"hx-request": "true"})
    for _ in range(40):
        invented = str(uuid.UUID(int=uuid.uuid4().int | (7 << 76)))
        assert site.http.get(f"/?cursor={invented}").status_code == 200
    client = redis.Redis.from_url(site.settings.redis_url)
    cached = [k for k in client.scan_iter("narcis:wall:v*") if b"cursors" not in k]
    client.close()
    assert len(cached) == 2  # the first page and the fragment after the issued cursor


def _set(site, portrait_id: str, **values) -> None:
    async def write(db, media):
        async with db.session() as session:
            await session.execute(
                update(Portrait).where(Portrait.id == uuid.UUID(portrait_id)).values(**values)
            )

    site.run(write)


def _admin(site, new: bool = True) -> str:
    if new:
        add_account(site, "root@example.org", "root password", "admin")
    log_in(site, "root@example.org", "root password")
    return re.search(r'"x-csrftoken": "([^"]+)"', site.http.get("/admin").text)[1]


def test_a_hidden_portraits_job_page_is_gone(site, astronaut) -> None:
    job = job_id(site.make([("me.png", png(astronaut))]))
    assert site.http.get(f"/jobs/{job}").status_code == 200
    _set(site, job, hidden=True)
    assert site.http.get(f"/jobs/{job}").status_code == 404
    assert site.http.get(f"/jobs/{job}/events").status_code == 404


def test_hiding_a_portrait_is_not_announced_as_a_new_one(site) -> None:
    (pid,) = site.run(lambda db, media: seed_portraits(db, media, 1, curated=False))
    token = _admin(site)
    client = redis.Redis.from_url(site.settings.redis_url)
    listener = client.pubsub()
    listener.subscribe(NEW_CHANNEL)
    listener.get_message(timeout=1)  # the subscription's confirmation

    def heard() -> int:
        return sum(1 for _ in iter(lambda: listener.get_message(timeout=0.3), None))

    for flag, expected in (("curated", 1), ("hidden", 0), ("hidden", 0), ("curated", 0)):
        site.http.post(f"/admin/portraits/{pid}/{flag}", headers={"x-csrftoken": token})
        assert heard() == expected, flag
    listener.close()
    client.close()


def test_the_wall_shows_only_what_its_owner_chose_to_share(site, astronaut) -> None:
    face = png(astronaut)
    private = job_id(site.make([("me.png", face)]))
    shared = job_id(site.make([("me.png", face)], share=True))
    restyled = job_id(site.make([("me.png", face)], restyle=True, share=True))
    owner = dict(site.http.cookies)
    for job in (private, shared, restyled):
        _set(site, job, status="done")
    new_browser(site)
    token = _admin(site)

    def curate(job: str, token: str = token) -> int:
        return site.http.post(
            f"/admin/portraits/{job}/curated", headers={"x-csrftoken": token}
        ).status_code

    assert [curate(j) for j in (private, shared, restyled)] == [400, 200, 400]
    wall = site.http.get("/").text
    assert shared in wall and private not in wall and restyled not in wall
    # The owner shares the private one afterwards; a restyle cannot be shared at all.
    new_browser(site)
    for name, value in owner.items():
        site.http.cookies.set(name, value)
    mine = site.http.get("/me").text
    assert (
        f"/me/portraits/{private}/share" in mine and f"/me/portraits/{restyled}/share" not in mine
    )
    assert site.post_form(f"/me/portraits/{private}/share", {}, "/me").status_code == 303
    assert site.post_form(f"/me/portraits/{restyled}/share", {}, "/me").status_code == 404
    new_browser(site)
    assert curate(private, _admin(site, new=False)) == 200


@pytest.mark.parametrize(
    "host", ["127.0.0.1:99999", "127.0.0.1:80@evil.example", "127.0.0.1:0", "evil.example", ""]
)
def test_a_malformed_or_foreign_host_header_is_a_400(site, host) -> None:
    assert site.http.get("/", headers={"host": host}).status_code == 400  # 99999 was a 500


def test_absolute_urls_come_from_the_configured_origin(site, monkeypatch) -> None:
    from litestar.testing import TestClient
    from photowall.app import create_app

    from core.config import load_settings

    monkeypatch.setenv("NARCIS_SITE_ORIGIN", "https://narcis.example")
    (pid,) = site.run(lambda db, media: seed_portraits(db, media, 1))
    with TestClient(app=create_app(load_settings()), base_url="http://127.0.0.1") as http:
        page = http.get(f"/p/{pid}/byzantine-emperor").text
    og_image = re.search(r'property="og:image" content="([^"]+)"', page)[1]
    assert og_image.startswith(f"https://narcis.example/img/{pid}/"), og_image
    assert f'rel="canonical" href="https://narcis.example/p/{pid}/' in page
    assert "127.0.0.1" not in page  # nothing from the request's Host


@pytest.mark.parametrize("path", ["/", "/health", "/make", "/login", "/static/css/site.css"])
def test_head_is_answered_like_get_without_a_body(site, path) -> None:
    got, head = site.http.get(path), site.http.head(path)
    assert head.status_code == got.status_code == 200  # was: 405
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.serial
def test_head_of_a_stream_ends_once_its_headers_are_out(site) -> None:
    started = time.monotonic()
    head = site.http.head("/events/wall")
    assert head.status_code == 200 and head.content == b""
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("path", ["/", "/make", "/login", "/nowhere", "/me"])
def test_html_names_its_charset_once(site, path) -> None:
    kind = site.http.get(path).headers["content-type"]
    assert kind == "text/html; charset=utf-8", kind  # was: "…; charset=utf-8; charset=utf-8"
    bad_login = site.post_form("/login", {"email": "x@example.org", "password": "x"}, "/login")
    assert bad_login.headers["content-type"] == "text/html; charset=utf-8"
