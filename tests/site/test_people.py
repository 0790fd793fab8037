"""Accounts, curation, retention and erasure."""

import re
import uuid

import pytest
from sqlalchemy import func, select

from core.store.accounts import create_account
from core.store.models import Portrait, ReferenceFace
from core.store.retention import purge_references
from tests.site.client import png
from tests.site.seed import seed_portraits


def log_in(site, email: str, password: str):
    return site.post_form("/login", {"email": email, "password": password}, "/login")


def test_signup_moves_guest_tokens_to_the_account(site, astronaut) -> None:
    assert site.make([("me.png", png(astronaut))]).status_code == 303  # guest: 5 → 4
    response = site.post_form(
        "/signup", {"email": "ada@example.org", "password": "long enough"}, "/signup"
    )
    assert response.status_code == 303
    assert "Tokens left: <strong>4</strong>" in site.http.get("/me").text
    site.post_form("/logout", {}, "/me")
    assert log_in(site, "ada@example.org", "wrong password!").status_code == 400


def test_admin_area_needs_an_admin(site) -> None:
    assert site.http.get("/admin").status_code == 401
    site.run(lambda db, media: create_account(db, "user@example.org", "user password"))
    log_in(site, "user@example.org", "user password")
    assert site.http.get("/admin").status_code == 403


def test_admin_curates_and_hides(site) -> None:
    (pid,) = site.run(lambda db, media: seed_portraits(db, media, 1, curated=False))
    site.run(lambda db, media: create_account(db, "root@example.org", "root password", "admin"))
    log_in(site, "root@example.org", "root password")
    page = site.http.get("/admin")
    assert page.status_code == 200 and pid in page.text
    token = re.search(r'"x-csrftoken": "([^"]+)"', page.text).group(1)
    assert pid not in site.http.get("/").text
    row = site.http.post(f"/admin/portraits/{pid}/curated", headers={"x-csrftoken": token})
    assert row.status_code == 200 and ">yes</button>" in row.text
    assert pid in site.http.get("/").text  # the version bump made the wall fresh
    site.http.post(f"/admin/portraits/{pid}/hidden", headers={"x-csrftoken": token})
    assert pid not in site.http.get("/").text
    assert site.http.get(f"/img/{pid}/byzantine-emperor-320.jpg").status_code == 404
    assert site.http.post(f"/admin/portraits/{pid}/curated").status_code == 403  # no CSRF


def test_retention_purge_removes_old_reference_photos(site, astronaut) -> None:
    site.make([("me.png", png(astronaut))])

    async def purge(db, media, days):
        return await purge_references(db, media, days), await media.keys("faces")

    assert site.run(lambda db, media: purge(db, media, 7))[0] == 0
    removed, left = site.run(lambda db, media: purge(db, media, -1))  # "older than tomorrow"
    assert removed == 1 and left == []


def test_owner_deletes_photos_and_portraits_in_one_action(site, astronaut) -> None:
    site.make([("me.png", png(astronaut))])
    guest = None

    async def setup(db, media):
        nonlocal guest
        async with db.session() as session:
            guest = (await session.scalars(select(ReferenceFace.session_id))).first()
        return await seed_portraits(db, media, 2, session_id=guest)

    ids = site.run(setup)
    assert all(i in site.http.get("/").text for i in ids)
    response = site.post_form("/me/delete", {}, "/me")
    assert response.status_code == 303

    async def left(db, media):
        async with db.session() as session:
            owned = await session.scalar(
                select(func.count()).select_from(Portrait).where(Portrait.session_id == guest)
            )
            faces = await session.scalar(select(func.count()).select_from(ReferenceFace))
        return owned, faces, await media.keys("portraits"), await media.keys("faces")

    assert site.run(left) == (0, 0, [], [])
    assert not any(i in site.http.get("/").text for i in ids)


# A fixed id: a random one would differ between pytest-xdist workers, which must agree.
@pytest.mark.parametrize("path", ["/jobs/nope", f"/jobs/{uuid.UUID(int=7)}", "/p/x/y"])
def test_unknown_pages_are_404(site, path) -> None:
    assert site.http.get(path).status_code == 404
