import asyncio
import re

from tests.site.seed import seed_portraits

IDS = re.compile(r'data-id="([0-9a-f-]{36})"')


def cursor_of(html: str) -> str | None:
    found = re.search(r'hx-get="/\?cursor=([0-9a-f-]{36})', html)
    return found.group(1) if found else None


def test_pages_follow_keyset_cursors_to_the_end(site) -> None:
    ids = site.run(lambda db, media: seed_portraits(db, media, 30))
    first = site.http.get("/")
    assert first.status_code == 200
    seen = IDS.findall(first.text)
    assert seen == list(reversed(ids))[:12]
    assert first.text.count('loading="lazy"') == 9  # the first row loads eagerly
    cursor = cursor_of(first.text)
    while cursor:
        page = site.http.get(f"/?cursor={cursor}", headers={"HX-Request": "true"})
        assert "<html" not in page.text  # a fragment, not a page
        seen += IDS.findall(page.text)
        cursor = cursor_of(page.text)
    assert seen == list(reversed(ids)) and len(set(seen)) == 30
    assert "end of the wall" in page.text


def test_fragment_and_page_share_a_url_and_vary_on_htmx(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 3))
    page = site.http.get("/")
    fragment = site.http.get("/", headers={"HX-Request": "true"})
    assert page.headers["vary"] == fragment.headers["vary"] == "HX-Request, Accept-Encoding"
    assert page.headers["etag"] != fragment.headers["etag"]
    assert "<html" in page.text and "<html" not in fragment.text


def test_images_have_size_placeholder_and_three_formats(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 1))
    html = site.http.get("/").text
    assert 'width="320" height="320"' in html
    assert "background-image:url(data:image/png;base64," in html
    for kind in ("image/avif", "image/webp"):
        assert f'type="{kind}"' in html
    src = re.search(r'src="(/img/[^"]+\.jpg)"', html).group(1)
    image = site.http.get(src)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert "immutable" in image.headers["cache-control"]


def test_304_until_a_curation_bumps_the_version(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 2))
    first = site.http.get("/")
    etag = first.headers["etag"]
    assert site.http.get("/", headers={"If-None-Match": etag}).status_code == 304
    site.run(lambda db, media: seed_portraits(db, media, 1))  # no bump yet: still cached
    assert site.http.get("/", headers={"If-None-Match": etag}).status_code == 304

    async def bump(db, media):
        from photowall.wall import Wall
        from redis.asyncio import Redis

        redis = Redis.from_url(site.settings.redis_url)
        await Wall(db, redis).bump()
        await redis.aclose()

    site.run(bump)
    fresh = site.http.get("/", headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert len(IDS.findall(fresh.text)) == 3


def test_filter_by_idea_and_bad_cursor(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 14))
    html = site.http.get("/?q=vampiric").text
    assert len(IDS.findall(html)) == 2 and "vampiric beauty" in html
    assert site.http.get("/?cursor=not-an-id").status_code == 400


def test_uncurated_and_hidden_portraits_stay_off_the_wall(site) -> None:
    site.run(lambda db, media: seed_portraits(db, media, 2, curated=False))
    assert IDS.findall(site.http.get("/").text) == []
    assert "No portraits on the wall yet" in site.http.get("/").text


def test_health(site) -> None:
    response = site.http.get("/health")
    assert response.status_code == 200 and response.json()["redis"] == "ok"
    assert response.json()["schema"] == "ok"


def test_health_reports_an_unmigrated_database(tmp_path, redis_db_url, monkeypatch) -> None:
    from litestar.testing import TestClient
    from photowall.app import create_app

    from core.config import load_settings

    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NARCIS_REDIS_URL", redis_db_url)
    with TestClient(app=create_app(load_settings()), base_url="http://127.0.0.1") as http:
        response = http.get("/health")  # was: 200 while every page was a 503
    assert response.status_code == 503
    assert response.json()["schema"] == "the database is empty: run `narcis db upgrade`"
    assert response.json()["database"] == "ok"


def test_health_reports_a_database_that_does_not_answer(tmp_path, redis_db_url, monkeypatch):
    from litestar.testing import TestClient
    from photowall.app import create_app

    from core.config import load_settings
    from tests.services import free_port

    monkeypatch.setenv("NARCIS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("NARCIS_REDIS_URL", redis_db_url)
    nobody = f"postgresql+asyncpg://narcis@127.0.0.1:{free_port()}/narcis"
    monkeypatch.setenv("NARCIS_DATABASE_URL", nobody)
    with TestClient(app=create_app(load_settings()), base_url="http://127.0.0.1") as http:
        response = http.get("/health")
    assert response.status_code == 503
    assert response.json()["database"].startswith("down: ")
    assert "schema" not in response.json() and response.json()["redis"] == "ok"


def test_fifty_health_checks_at_once_share_the_pool_and_the_redis_client(server) -> None:
    """Its one connection and one PING each: none waits out the pool or fails."""
    import httpx

    async def check_all() -> list[int]:
        async with httpx.AsyncClient(base_url=server, timeout=30) as client:
            answers = await asyncio.gather(*(client.get("/health") for _ in range(50)))
        return [answer.status_code for answer in answers]

    for _ in range(5):
        assert asyncio.run(check_all()) == [200] * 50


def test_painting_a_placeholder_prints_nothing(capfd) -> None:
    from photowall.wall import placeholder

    from core.store.derivatives import make_thumbhash
    from tests.site.seed import picture

    assert placeholder(make_thumbhash(picture(5, 48))).startswith("data:image/png;base64,")
    assert capfd.readouterr().out == ""  # was: the aspect ratio, a stray float per picture
