"""The job page shows the likeness score stored with a finished portrait."""

import uuid

from core.store.models import Job, Portrait
from tests.site.seed import seed_portraits


def finished(site, likeness: float | None, prompt_score: float | None = None) -> str:
    async def work(db, media):
        (pid,) = await seed_portraits(db, media, 1)
        async with db.session() as session:
            session.add(Job(id=uuid.UUID(pid), status="done"))
            portrait = await session.get(Portrait, uuid.UUID(pid))
            portrait.likeness, portrait.likeness_analyzer = likeness, "arcface-512"
            portrait.prompt_score = prompt_score
        return pid

    return site.run(work)


def test_the_job_page_shows_the_likeness(site) -> None:
    page = site.http.get(f"/jobs/{finished(site, 0.7134, 0.3121)}")
    assert page.status_code == 200
    assert "likeness 0.71 · prompt 0.31" in page.text and "(arcface-512)" in page.text


def test_no_score_no_line(site) -> None:
    page = site.http.get(f"/jobs/{finished(site, None)}")
    assert page.status_code == 200 and 'id="likeness"' not in page.text
