"""Two operators in real headless Chromium (two browser contexts, two sessions): while A
paints, B's run waits and B sees its place and an ETA from the measured steps; A sees it is
first of two. Stop on B's queued run takes it out of line before it paints anything."""

from __future__ import annotations

import re

from playwright.sync_api import Page, sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_app import PARAMS
from tests.workbench.test_browser import counter, open_workbench

# Long enough that B can join and leave while A paints, even on an idle machine (150 steps
# at 256², where 64² would take about 2 s); A is stopped at the end.
LONG = PARAMS.model_copy(
    update={
        "composition": PARAMS.composition.model_copy(
            update={"steps": 150, "width": 256, "height": 256}
        )
    }
)
LEFT = "Stopped: it left the queue while waiting; nothing was painted."
TRACKER = "[data-testid=status-tracker]"  # stage 1 shows its progress over the base alone


def tracker_text(page: Page) -> str:
    return page.evaluate(f"document.querySelector('{TRACKER}:not(.hide)')?.innerText ?? ''")


def wait_for_tracker(page: Page, pattern: str, timeout: float = 30_000) -> str:
    try:
        page.wait_for_function(
            f"new RegExp({pattern!r}).test("
            f"document.querySelector('{TRACKER}:not(.hide)')?.innerText ?? '')",
            timeout=timeout,
        )
    except Exception:
        raise AssertionError(f"{pattern!r} never shown; now: {tracker_text(page)!r}") from None
    return tracker_text(page)


def load_params(page: Page, path: str) -> None:
    page.get_by_text("Reproduce and presets").click()
    page.locator("#source input[type=file]").set_input_files(path)
    page.get_by_role("button", name="Load parameters").click()
    page.get_by_text("Parameters as JSON").click()
    page.wait_for_function("document.body.innerText.includes('\"steps\": 150')")


def test_two_operators_see_places_one_and_two_and_stop_leaves_the_queue(
    workbench_url, tmp_path
) -> None:
    params = tmp_path / "long.json"
    params.write_text(LONG.model_dump_json())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        a, b = (
            browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            for _ in range(2)
        )
        for page in (a, b):
            open_workbench(page, workbench_url)
            load_params(page, str(params))
        a.get_by_role("button", name="Run stage 1").click()
        wait_for_tracker(a, r"\d+/150 steps")  # A paints: a step is measured
        b.get_by_role("button", name="Run stage 1").click()
        waiting = wait_for_tracker(b, r"queue 2 of 2 · starts in about \d+ s")
        first = wait_for_tracker(a, r"queue 1 of 2 · composition")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        b.screenshot(path=str(ARTIFACTS / "workbench-queue-second.png"))
        eta = int(re.search(r"about (\d+) s", waiting).group(1))
        b.get_by_role("button", name="Stop").click()
        b.wait_for_selector(f"text={LEFT}", timeout=30_000)  # the toast says what happened
        # A paints on, now alone in line (its bar no longer says "queue 1 of 2")
        wait_for_tracker(a, r"^(?![\s\S]*queue 1 of)[\s\S]*\d+/150 steps")
        assert "queue" not in tracker_text(b)  # B's run is gone, not waiting
        a.get_by_role("button", name="Stop").click()  # A need not paint all 150 steps
        a.wait_for_function(
            f"!/steps/.test(document.querySelector('{TRACKER}:not(.hide)')?.innerText ?? '')",
            timeout=30_000,
        )
        assert counter(b, "stage1_runs") == -1  # B never painted (it has no counters at all)
        print(f"\nA: {first!r}\nB: {waiting!r} (ETA {eta} s)")
        browser.close()
