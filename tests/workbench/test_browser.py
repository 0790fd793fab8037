"""The paint → stage 2 cycle in real headless Chromium, 20 times: every result reaches the
page, no progress overlay stays behind, a stroke sends no request, and what the editor shows
is what stage 2 applied (strokes stay visible and every one of them is in the applied map)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_app import PARAMS, PASSWORD

CYCLES = 20
TALL = 2000  # px: the viewport's height in the cycles test
# A small face core, so the automatic map is "keep" on the left strip where we paint.
TUNED = PARAMS.model_copy(
    update={"identity": PARAMS.identity.model_copy(update={"mask_core": 0.3, "mask_dilation": 0})}
)


def loopback_only(page: Page) -> None:
    """No request leaves the machine (Gradio's page asks for web fonts, which would hang)."""
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
            else route.abort()
        ),
    )


def open_workbench(page: Page, url: str) -> None:
    loopback_only(page)
    page.goto(url)
    page.fill("input[type=text]", "operator")
    page.fill("input[type=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Run stage 1", timeout=30_000)


def counter(page: Page, name: str) -> int:
    found = re.search(rf'"{name}": (\d+)', page.locator("#counters").inner_text())
    return int(found.group(1)) if found else -1


def busy_overlays(page: Page) -> int:
    """Progress overlays still showing (Gradio hides a finished one with the `hide` class)."""
    return page.locator("[data-testid=status-tracker]:not(.hide)").count()


def stage_one(page: Page, photo: str, params: Path) -> None:
    """A reference photo, the parameters loaded from a JSON file, then stage 1 run once."""
    page.locator("#references input[type=file]").set_input_files(photo)
    page.get_by_role("button", name="Find faces").click()
    page.get_by_text("Reproduce and presets").click()
    page.locator("#source input[type=file]").set_input_files(str(params))
    page.get_by_role("button", name="Load parameters").click()
    page.get_by_text("Parameters as JSON").click()  # folded by default
    page.wait_for_function("document.body.innerText.includes('\"mask_core\": 0.3')")
    page.get_by_role("button", name="Run stage 1").click()
    page.wait_for_function(
        "document.querySelector('#counters').innerText.includes('\"stage1_runs\": 1')"
    )


PLACEMENT: dict[str, tuple[float, float, float, float]] = {}


def image_rect(page: Page) -> tuple[float, float, float, float]:
    """Where the crop sits on the editor's canvas, in page pixels (x, y, width, height).

    Measured once, before any white stroke can blur the picture's edge, relative to the
    canvas; then moved along with the canvas as the page scrolls."""
    box = page.locator("#map-editor canvas").first.bounding_box()
    if "offset" not in PLACEMENT:
        x, y, width, height = measure_picture(page)
        PLACEMENT["offset"] = (x - box["x"], y - box["y"], width, height)
    dx, dy, width, height = PLACEMENT["offset"]
    return box["x"] + dx, box["y"] + dy, width, height


def measure_picture(page: Page) -> tuple[float, float, float, float]:
    for _ in range(50):  # the canvas draws its picture a moment after it arrives
        found = find_picture(page)
        if found is not None:
            return found
        page.wait_for_timeout(100)
    raise AssertionError("the editor shows no picture")


def find_picture(page: Page) -> tuple[float, float, float, float] | None:
    canvas = page.locator("#map-editor canvas").first
    box = canvas.bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")).astype(int)
    background = np.median(shot[:, :8].reshape(-1, 3), axis=0)  # the canvas's own colour
    differs = np.abs(shot - background).sum(-1) > 30
    xs = np.nonzero(differs.mean(axis=0) > 0.5)[0]  # columns mostly picture
    if len(xs) < 20:
        return None
    inside = differs[:, xs.min() : xs.max() + 1]
    rows = np.nonzero(inside.mean(axis=1) > 0.9)[0]  # rows that are picture across them
    runs = np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1)  # (borders are rows too)
    ys = max(runs, key=len)
    scale_x, scale_y = box["width"] / shot.shape[1], box["height"] / shot.shape[0]
    x0, y0 = box["x"] + xs.min() * scale_x, box["y"] + ys.min() * scale_y
    return x0, y0, (xs.max() - xs.min() + 1) * scale_x, (ys.max() - ys.min() + 1) * scale_y


def stroke(page: Page, rect, y: float, requests: list, points: int = 2) -> int:
    """A white stroke across the left strip at height `y` (a fraction of the crop), of
    `points` pointer moves (the brush joins them with straight segments)."""
    x0, y0, width, height = rect
    before = len(requests)
    page.mouse.move(x0 + 0.06 * width, y0 + y * height)
    page.mouse.down()
    for step in range(1, points + 1):
        page.mouse.move(x0 + (0.06 + 0.18 * step / points) * width, y0 + y * height)
    page.mouse.up()
    page.wait_for_timeout(100)
    return len(requests) - before


def applied_map(page: Page) -> np.ndarray:
    """The change map stage 2 used (the third image of the intermediates), 0..1."""
    src = page.locator("#steps img").nth(2).get_attribute("src")
    data = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float32) / 255.0


def editor_pixels(page: Page, rect) -> np.ndarray:
    x0, y0, width, height = rect
    shot = page.screenshot(clip={"x": x0, "y": y0, "width": width, "height": height})
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB"))


def strokes_shown(page: Page, heights: list[float], tries: int = 30) -> bool:
    """Every stroke is white on the editor (the editor redraws a moment after a run)."""
    for _ in range(tries):
        shown = editor_pixels(page, image_rect(page))
        if all(near(shown, y, 0.15, radius=2).min(axis=-1).max() >= 235 for y in heights):
            return True
        page.wait_for_timeout(100)
    page.screenshot(path=str(ARTIFACTS / "workbench-ghost-paint.png"))
    return False


def near(values: np.ndarray, y: float, x: float, radius: int = 1) -> np.ndarray:
    row, column = int(y * values.shape[0]), int(x * values.shape[1])
    return values[
        max(0, row - radius) : row + radius + 1, max(0, column - radius) : column + radius + 1
    ]


def test_twenty_paint_and_stage_two_cycles(workbench_url, astronaut_file, tmp_path) -> None:
    params = tmp_path / "params.json"
    # One step: each cycle proves a round trip of strokes and maps, not the diffusion.
    one_step = TUNED.identity.model_copy(update={"steps": 1})
    params.write_text(TUNED.model_copy(update={"identity": one_step}).model_dump_json())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        # Tall enough for the run button and the editor at once: no scrolling between them.
        page = browser.new_page(viewport={"width": 1400, "height": TALL})
        open_workbench(page, workbench_url)
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        stage_one(page, astronaut_file, params)
        editor = page.locator("#map-editor").bounding_box()
        assert editor["y"] >= 0 and editor["y"] + editor["height"] <= TALL, editor
        PLACEMENT.clear()
        heights, per_stroke, frozen, finals = [], [], 0, []
        for cycle in range(CYCLES):
            heights.append(0.05 + 0.045 * cycle)
            per_stroke.append(stroke(page, image_rect(page), heights[-1], requests))
            page.get_by_role("button", name="Run stage 2").click()
            page.wait_for_function(
                f"document.querySelector('#counters').innerText"
                f".includes('\"stage2_runs\": {cycle + 1}')",
                timeout=60_000,
            )
            try:
                page.wait_for_function(
                    "document.querySelectorAll('[data-testid=status-tracker]:not(.hide)')"
                    ".length === 0",
                    timeout=5_000,
                )
            except Exception:
                frozen += 1
            finals.append(page.locator("#final img").get_attribute("src"))
            applied = applied_map(page)
            for y in heights:  # every stroke so far is in the map stage 2 applied …
                assert near(applied, y, 0.15).max() >= 0.95, (cycle, y)
            assert strokes_shown(page, heights), cycle  # … and still shown in the editor
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench-paint-cycles.png"))
        assert counter(page, "stage2_runs") == CYCLES
        assert len({f for f in finals if f}) == CYCLES  # 20 results reached the page
        assert frozen == 0 and busy_overlays(page) == 0
        assert max(per_stroke) == 0  # painting sends nothing; stage 2 reads the strokes
        browser.close()
