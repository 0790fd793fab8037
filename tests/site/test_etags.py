"""If-None-Match as clients really send it, and as a careless or hostile one makes it up."""

from __future__ import annotations

import pytest

from tests.site.seed import seed_portraits


@pytest.fixture
def etag(site) -> str:
    site.run(lambda db, media: seed_portraits(db, media, 3))
    return site.http.get("/", headers={"Accept-Encoding": "gzip"}).headers["etag"]


def test_the_real_tag_weak_or_strong_or_in_a_list_is_a_304(site, etag) -> None:
    gzip = {"Accept-Encoding": "gzip"}
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = site.http.get("/", headers={**gzip, "If-None-Match": sent})
        assert response.status_code == 304 and response.content == b"", sent
        assert response.headers["etag"] == etag


@pytest.mark.parametrize(
    "forged",
    [
        '"deadbeef"',
        "deadbeef",
        "W/",
        '""',
        ",,,,",
        '"' + "a" * 8000 + '"',
        ", ".join(f'"{n}"' for n in range(500)),
        "\x7f\x01",
    ],
)
def test_a_made_up_tag_gets_the_page(site, etag, forged) -> None:
    response = site.http.get("/", headers={"Accept-Encoding": "gzip", "If-None-Match": forged})
    assert response.status_code == 200 and b"data-id" in response.content


def test_another_representations_tag_gets_the_page(site, etag) -> None:
    # the gzip body's tag names the gzip body only; the fragment's is not the page's
    assert site.http.get("/", headers={"If-None-Match": etag}).status_code == 200
    fragment = {"Accept-Encoding": "gzip", "HX-Request": "true", "If-None-Match": etag}
    assert site.http.get("/", headers=fragment).status_code == 200
    searched = site.http.get("/?q=emperor", headers={"If-None-Match": etag})
    assert searched.status_code == 200
