"""The workbench at 1366×768 in headless Chromium, as an operator tunes it: the schedule is
drawn on load, the JSON is folded, and the Final image with its likeness stays in view while
a slider deep in the controls is dragged. The screenshot is kept as a test artifact."""

from playwright.sync_api import Page, sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_browser import TUNED, open_workbench, stage_one
from tests.workbench.test_browser_map import drag

VIEWPORT = {"width": 1366, "height": 768}


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"]


def test_the_final_and_its_score_stay_in_view_at_1366_by_768(
    workbench_url, astronaut_file, tmp_path
) -> None:
    params = tmp_path / "params.json"
    params.write_text(TUNED.model_dump_json())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        open_workbench(page, workbench_url)
        page.wait_for_selector("#plot img", timeout=10_000)  # drawn on load, before any change
        assert not page.locator("#json .cm-content").is_visible()  # the JSON starts folded
        stage_one(page, astronaut_file, params)
        page.get_by_role("button", name="Run stage 2").click()
        page.wait_for_function(  # 16 s alone; a neighbour in the parallel lane may paint too
            "document.querySelector('#score').innerText.includes('likeness')", timeout=60_000
        )
        drag(page, "Map: feather", "mask_feather", 0.15, 0.5)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench-1366x768.png"))
        assert in_view(page, "#final img") and in_view(page, "#score")
        assert page.evaluate("window.scrollY") == 0  # the controls scrolled, not the page
        browser.close()
