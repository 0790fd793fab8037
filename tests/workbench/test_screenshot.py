"""A look at the workbench in headless Chromium, logged in; saved as a test artifact."""

from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_app import PASSWORD


def test_workbench_screenshot(workbench_url) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
                else route.abort()
            ),
        )
        page.goto(workbench_url)
        page.fill("input[type=text]", "operator")
        page.fill("input[type=password]", PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Run stage 1", timeout=30_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench.png"))
        assert page.locator("text=Run stage 2").count() >= 1
        browser.close()
