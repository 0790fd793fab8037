"""The change map preview in real headless Chromium, as an operator tunes it: after stage 1,
each drag of a map slider (core, dilation, feather) redraws the map over the crop, and the
face box drawn on the base follows the box typed by hand — all without running stage 2."""

from __future__ import annotations

import io
import itertools
import re

import numpy as np
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_browser import TUNED, counter, open_workbench, stage_one
from workbench.maps import BOX_COLOUR

# A face small enough that its crop fits in the 64² base, so the map has room to grow.
SMALL_FACE = TUNED.model_copy(
    update={"identity": TUNED.identity.model_copy(update={"face_box": (0.3, 0.3, 0.7, 0.7)})}
)


def displayed(page: Page, elem_id: str, before: np.ndarray | None = None) -> np.ndarray:
    """The pixels an image component shows on screen once they differ from `before` and have
    settled (a drag sends several values; the last one is what counts)."""
    img = page.locator(f"#{elem_id} img").first
    last, same = None, 0
    for _ in range(150):
        page.wait_for_timeout(100)
        if not img.count() or not img.get_attribute("src"):
            continue
        if not img.evaluate("i => i.decode().then(() => true, () => false)"):
            continue  # its src changed while it was being decoded: look again
        shot = np.asarray(Image.open(io.BytesIO(img.screenshot())).convert("RGB")).astype(int)
        changed = before is None or shot.shape != before.shape or (shot != before).any()
        steady = last is not None and shot.shape == last.shape and (shot == last).all()
        same = same + 1 if changed and steady else 0
        if same >= 8:  # about a second: no later answer is on its way
            return shot
        last = shot
    raise AssertionError(f"#{elem_id} did not change and settle")


def redness(pixels: np.ndarray) -> float:
    """How much of the crop the map covers, and how strongly: it is laid over in red."""
    return float((pixels[..., 0] - pixels[..., 1:].mean(axis=-1)).mean())


def drag(page: Page, label: str, field: str, start: float, end: float) -> None:
    """Drag a slider's thumb as a person does, from where it sits to a new place (fractions
    of its track); returns once the parameters (JSON) hold the value it stopped at."""
    track = page.locator(f'input[aria-label="range slider for {label}"]')
    track.scroll_into_view_if_needed()
    box = track.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + start * box["width"], y)
    page.mouse.down()
    for step in range(1, 6):
        page.mouse.move(box["x"] + (start + (end - start) * step / 5) * box["width"], y, steps=2)
    page.mouse.up()
    value = float(track.input_value())
    for _ in range(100):
        found = re.search(rf'"{field}": ([0-9.]+)', page.locator("body").inner_text())
        if found and abs(float(found.group(1)) - value) < 1e-6:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{field} never reached {value} in the parameters")


def gold(pixels: np.ndarray) -> np.ndarray:
    """Where the face box is drawn (its colour, give or take the browser's scaling)."""
    return np.abs(pixels - np.array(BOX_COLOUR)).sum(axis=-1) < 40


def box_of(pixels: np.ndarray) -> tuple[float, float, float, float]:
    """The gold box's outer edges as fractions of the picture: the rows and columns that are
    gold along a good part of their length (a stray gold-ish pixel of the base is not)."""
    lines = gold(pixels)
    height, width = lines.shape
    xs = np.nonzero(lines.sum(axis=0) >= 0.2 * height)[0]
    ys = np.nonzero(lines.sum(axis=1) >= 0.2 * width)[0]
    assert len(xs) and len(ys), "no face box drawn"
    return xs.min() / width, ys.min() / height, (xs.max() + 1) / width, (ys.max() + 1) / height


def test_the_map_preview_follows_its_sliders_and_the_face_box_is_drawn(
    workbench_url, astronaut_file, tmp_path
) -> None:
    params = tmp_path / "params.json"
    params.write_text(SMALL_FACE.model_dump_json())  # core 0.3, no dilation, box by hand
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_workbench(page, workbench_url)
        stage_one(page, astronaut_file, params)
        shown = displayed(page, "map-preview")
        base = displayed(page, "face-view")
        seen = [("stage 1", redness(shown))]
        for label, field, start, end in (
            ("Map: core", "mask_core", 0.0, 0.5),  # a larger core covers more of the crop …
            ("Map: dilation", "mask_dilation", 0.0, 0.4),  # … and so does dilating it …
            ("Map: dilation", "mask_dilation", 0.4, 0.9),  # … more
        ):
            drag(page, label, field, start, end)
            shown = displayed(page, "map-preview", shown)
            seen.append((f"{label} → {end}", redness(shown)))
        drag(
            page, "Map: feather", "mask_feather", 0.0, 1.0
        )  # softer edges: a different map, drawn at once
        feathered = displayed(page, "map-preview", shown)
        boxed_before = box_of(base)
        typed = page.get_by_label("Face box by hand")
        typed.click()
        typed.press("Control+A")
        typed.press_sequentially("0.2, 0.2, 0.6, 0.6", delay=30)  # as a person types it
        typed.press("Tab")
        moved = displayed(page, "face-view", base)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench-map-preview.png"))
        stage2_runs = counter(page, "stage2_runs")
        browser.close()
    values = [value for _, value in seen]
    assert all(b > a + 1 for a, b in itertools.pairwise(values)), seen
    assert np.abs(feathered - shown).mean() > 0.5  # feather changed what is shown
    assert np.allclose(boxed_before, (0.3, 0.3, 0.7, 0.7), atol=0.04), boxed_before
    assert np.allclose(box_of(moved), (0.2, 0.2, 0.6, 0.6), atol=0.04), box_of(moved)
    assert stage2_runs == 0  # all of it without a diffusion step
