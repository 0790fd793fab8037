"""The photowall in real headless Chromium (Debian's), driven by Playwright.

Every request to anything but this machine is blocked. Screenshots land in artifacts/.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import redis
from photowall.wall import NEW_CHANNEL
from playwright.sync_api import sync_playwright

from tests.helpers import ROOT
from tests.site.seed import seed_portraits

ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser_page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        blocked: list[str] = []

        def only_local(route) -> None:
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                route.continue_()
            else:
                blocked.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        yield page, problems, blocked
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=False)


@pytest.fixture
def wall_ids(stack) -> list[str]:
    """Seeded before the browser starts: Playwright's sync API owns the event loop after."""
    return stack.run(seed_portraits(_db(stack), stack.media, 30))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_wall_scrolls_through_every_page_and_stops(stack, server, wall_ids, browser_page) -> None:
    page, problems, blocked = browser_page
    ids = wall_ids
    page.goto(server + "/")
    assert page.locator("figure.tile").count() == 12
    for _ in range(20):
        if page.locator("#wall-end").count():
            break
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(300)
    shown = page.locator("figure.tile").evaluate_all("els => els.map(e => e.dataset.id)")
    assert shown == list(reversed(ids)) and len(set(shown)) == 30
    assert page.locator("#wall-end").is_visible()
    assert page.locator("figure.tile img").first.evaluate("img => img.naturalWidth") > 0
    page.evaluate("window.scrollTo(0, 0)")
    position = page.evaluate("window.scrollY")
    redis.Redis.from_url(stack.redis_url).publish(NEW_CHANNEL, "1")  # a new curated portrait
    page.wait_for_selector(".news .fresh", timeout=10_000)
    assert page.locator(".news .fresh").inner_text() == "1 new portrait ↑"
    assert page.evaluate("window.scrollY") == position  # nothing moved under the reader
    shot(page, "wall.png")
    assert problems == [] and blocked == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_guest_uploads_watches_progress_and_gets_the_portrait(
    stack, server, browser_page, astronaut, tmp_path
) -> None:
    page, problems, blocked = browser_page
    stack.start_worker(NARCIS_PORTRAIT_SIZE="256", NARCIS_PORTRAIT_STEPS="3")
    photo = tmp_path / "me.png"
    astronaut.save(photo)
    page.goto(server + "/make")
    assert page.locator("#tokens").inner_text() == "5"
    page.set_input_files("input[name=photos]", str(photo))
    page.fill("input[name=idea]", "byzantine emperor")
    page.select_option("select[name=style]", "oil-painting")
    page.check("input[name=restyle]")
    page.click("button[type=submit]")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector(".progress", timeout=30_000)
    page.wait_for_selector("#download", timeout=240_000)
    result = page.locator(".result img")
    assert result.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, "result.png")
    share = page.locator("#share").get_attribute("href")
    assert share.startswith(server + "/p/") and share.endswith("/byzantine-emperor")
    page.goto(share)
    assert "byzantine emperor" in page.title()
    page.goto(server + "/me")
    assert page.locator("figure.tile").count() == 1
    assert problems == [] and blocked == [], stack.logs()


@pytest.mark.timeout(90)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_newcomers_first_portrait_with_the_forms_defaults(
    stack, server, browser_page, astronaut, tmp_path
) -> None:
    """The embedded default as a new visitor meets it: random weights paint no face a detector
    finds, so stage 2 paints one where the framing prior places it, and the page says so."""
    page, problems, blocked = browser_page
    stack.start_worker(NARCIS_PORTRAIT_SIZE="128", NARCIS_PORTRAIT_STEPS="2")
    photo = tmp_path / "me.png"
    astronaut.save(photo)
    page.goto(server + "/make")
    page.set_input_files("input[name=photos]", str(photo))
    page.fill("input[name=idea]", "byzantine emperor")  # nothing else touched
    page.click("button[type=submit]")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector("#download, #failure", timeout=60_000)
    assert page.locator("#failure").count() == 0, page.locator("#failure").inner_text()
    assert page.locator(".result img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.locator("#face-placed").inner_text().startswith("Face placed, not found")
    download = page.request.get(server + page.locator("#download").get_attribute("href"))
    assert download.ok and download.body().startswith(b"\x89PNG")
    shot(page, "first-portrait.png")
    assert problems == [] and blocked == [], stack.logs()


def _db(stack):
    from core.store.db import Database

    return Database(stack.database_url)
