"""The face box dragged on the picture in real headless Chromium, as an operator does it: press
on the face view, move, let go. The typed fractions follow the drag, the box is redrawn where
it was dragged, a drag past the picture's edge stops at the edge, a mere click changes
nothing, and nothing is sent while the pointer moves."""

from __future__ import annotations

import re

import numpy as np
from playwright.sync_api import Page, sync_playwright

from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_browser import open_workbench
from tests.workbench.test_browser_map import box_of, displayed
from workbench.face_drag import DRAG_BOX_ID, FACE_BOX_ID, FACE_VIEW_ID

Box = tuple[float, float, float, float]


def picture(page: Page) -> dict[str, float]:
    """Where the picture lies inside the face view's <img> (Gradio letterboxes it)."""
    return page.locator(f"#{FACE_VIEW_ID} img").first.evaluate(
        """img => {
            const r = img.getBoundingClientRect();
            const s = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight, 1);
            const w = img.naturalWidth * s, h = img.naturalHeight * s;
            return {x: r.left + (r.width - w) / 2, y: r.top + (r.height - h) / 2, w, h};
        }"""
    )


def drag(page: Page, start: tuple[float, float], end: tuple[float, float], sent: list) -> Box:
    """Press at `start`, move in ten steps to `end`, let go (fractions of the picture; they may
    lie outside it). Returns the outline drawn just before letting go, as fractions."""
    frame = picture(page)

    def x(fx: float, fy: float) -> tuple[float, float]:
        return frame["x"] + fx * frame["w"], frame["y"] + fy * frame["h"]

    page.mouse.move(*x(*start))
    before = len(sent)
    page.mouse.down()
    for step in range(1, 11):
        t = step / 10
        page.mouse.move(*x(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t))
    ring = page.locator(f"#{DRAG_BOX_ID}").bounding_box()
    assert len(sent) == before, sent[before:]  # nothing leaves while the pointer moves
    page.mouse.up()
    assert ring is not None, "no outline while dragging"
    return (
        (ring["x"] - frame["x"]) / frame["w"],
        (ring["y"] - frame["y"]) / frame["h"],
        (ring["x"] + ring["width"] - frame["x"]) / frame["w"],
        (ring["y"] + ring["height"] - frame["y"]) / frame["h"],
    )


def typed(page: Page) -> Box | None:
    text = page.locator(f"#{FACE_BOX_ID} textarea").input_value().strip()
    return tuple(float(v) for v in text.split(",")) if text else None


def json_box(page: Page) -> Box | None:
    found = re.search(r'"face_box": \[([^\]]*)\]', page.locator("#json").inner_text())
    return tuple(float(v) for v in found.group(1).split(",")) if found else None


def test_the_face_box_is_dragged_on_the_picture(workbench_url, astronaut_file) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_workbench(page, workbench_url)
        page.locator("#base input[type=file]").set_input_files(astronaut_file)
        found = displayed(page, "face-view")  # the face the detector found, boxed
        page.get_by_text("Parameters as JSON").click()  # unfolded, to read the JSON
        page.locator(f"#{FACE_VIEW_ID}").scroll_into_view_if_needed()
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url))

        # Bottom right to top left: the corners come out ordered all the same.
        outline = drag(page, (0.62, 0.58), (0.22, 0.18), sent)
        moved = displayed(page, FACE_VIEW_ID, found)
        dragged = (typed(page), json_box(page), box_of(moved), outline)

        # Past the picture's edge: the box stops at the edge.
        drag(page, (0.5, 0.45), (1.3, 1.2), sent)
        edged = displayed(page, FACE_VIEW_ID, moved)
        clamped = (typed(page), json_box(page), box_of(edged))

        # A click is no box: nothing changes, nothing is sent.
        before = len(sent)
        drag(page, (0.3, 0.3), (0.305, 0.305), sent)
        page.wait_for_timeout(500)
        clicked = (typed(page), len(sent) - before)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench-face-drag.png"))
        browser.close()

    want = (0.22, 0.18, 0.62, 0.58)
    assert np.allclose(dragged[0], want, atol=0.01), dragged  # the typed fractions …
    assert np.allclose(dragged[1], want, atol=0.01), dragged  # … the parameters …
    assert np.allclose(dragged[2], want, atol=0.02), dragged  # … and the box drawn
    assert np.allclose(dragged[3], want, atol=0.02), dragged  # the outline while dragging
    assert np.allclose(clamped[0], (0.5, 0.45, 1.0, 1.0), atol=0.01), clamped
    assert np.allclose(clamped[1], (0.5, 0.45, 1.0, 1.0), atol=0.01), clamped
    assert np.allclose(clamped[2][:2], (0.5, 0.45), atol=0.02), clamped  # (its far edges
    # lie on the picture's border)
    assert clicked == (clamped[0], 0), clicked
