"""A painted stage 2 uploads the map editor's images once, in real headless Chromium (#27
item 1): Gradio's editor uploads its images at every ask for its value, and the page used to
ask at every status message of a run (a painted run then cost 3 uploads per message)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, sync_playwright

from tests.site.test_browser import CHROMIUM, FLAGS
from tests.workbench.test_browser import (
    PLACEMENT,
    TUNED,
    applied_map,
    busy_overlays,
    image_rect,
    near,
    open_workbench,
    stage_one,
    stroke,
)

IMAGES = 3  # a painted editor's value: background, strokes, composite


def is_upload(request: Request) -> bool:
    return request.method == "POST" and urlsplit(request.url).path.endswith("/upload")


def run_stage_two(page: Page, runs_before: int, uploads: list) -> int:
    """Uploads the page made during one stage-2 run, from the click until it has settled."""
    uploads.clear()
    page.get_by_role("button", name="Run stage 2").click()
    page.wait_for_function(
        f"document.querySelector('#counters').innerText"
        f".includes('\"stage2_runs\": {runs_before + 1}')",
        timeout=60_000,
    )
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=status-tracker]:not(.hide)').length === 0"
    )
    page.wait_for_timeout(300)  # an upload still on its way would be counted too
    return len(uploads)


def test_a_painted_stage_two_uploads_the_editor_once(
    workbench_url, astronaut_file, tmp_path
) -> None:
    params = tmp_path / "params.json"
    params.write_text(TUNED.model_dump_json())  # 3 steps: a run sends several status messages
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        open_workbench(page, workbench_url)
        stage_one(page, astronaut_file, params)
        # A base uploaded by hand, as an operator may: its event also fills the editor.
        page.locator("#base input[type=file]").set_input_files(astronaut_file)
        page.wait_for_timeout(1500)
        uploads: list[str] = []
        page.on("request", lambda r: uploads.append(r.url) if is_upload(r) else None)
        unpainted = run_stage_two(page, 0, uploads)
        PLACEMENT.clear()
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        sent = stroke(page, image_rect(page), 0.3, requests, points=10)
        painted = run_stage_two(page, 1, uploads)
        applied = applied_map(page)
        overlays = busy_overlays(page)
        browser.close()
    assert sent == 0  # painting itself sends nothing
    assert near(applied, 0.3, 0.15).max() >= 0.95  # the stroke reached stage 2 …
    assert unpainted <= 1, unpainted  # … the editor read once per run (its background) …
    assert painted <= unpainted + IMAGES, (unpainted, painted)  # … painted or not
    assert overlays == 0
