"""A 3×3 sweep in real headless Chromium, as an operator runs one: the grid's cells carry
their likeness, the best is marked, the sheet comes back as one PNG with everything inside;
a fresh tab that loads that PNG gets every control back (each parameter widget and the axes)."""

from __future__ import annotations

import json

from PIL import Image
from playwright.sync_api import Page, sync_playwright

from core.diffusion.params import PortraitParams
from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_browser import TUNED, open_workbench
from tests.workbench.test_browser_queue import load_params
from workbench.sweep_sheet import SWEEP_CHUNK, read_controls_file

# Off their defaults wherever the tiny models allow, so a control that is not restored shows.
GRID = TUNED.model_copy(
    update={
        "idea": "byzantine emperor",
        "tier": "preview",
        "face_retries": 5,
        "composition": TUNED.composition.model_copy(
            update={"steps": 150, "guidance_scale": 6.5, "scheduler": "euler", "seed": 2**60}
        ),
        "identity": TUNED.identity.model_copy(
            update={
                "steps": 2,
                "guidance_scale": 3.5,
                "schedule": "ays-sigmas",
                "style_strength": 30.0,
                "class_word": "man",
                "mask_feather": 0.25,
                "seed": 11,
            }
        ),
    }
)
AXES = [("identity.mask_feather", "0.1, 0.3, 0.6"), ("identity.seed", "1, 2, 3")]


def choose(page: Page, position: str, name: str, values: str) -> None:
    """Pick an axis from its dropdown as typed, then its values. The pick is checked after
    the list closes (a dropdown keeps its old value when Enter came before the list
    narrowed) and made again if it did not hold."""
    box = page.locator(f"#sweep-{position} input")
    for _ in range(3):
        box.scroll_into_view_if_needed()
        box.click()
        box.press("Control+a")
        page.keyboard.type(name)  # as typed: the list narrows to it
        page.wait_for_timeout(200)
        page.keyboard.press("Enter")
        page.locator(f"#sweep-{position}-values textarea").fill(values)  # the list closes
        page.wait_for_timeout(300)
        if box.input_value() == name:
            return
    raise AssertionError(f"the {position} dropdown would not take {name}")


def axis_fields(page: Page) -> list[str]:
    fields = []
    for position in "xyz":
        fields.append(page.locator(f"#sweep-{position} input").input_value())
        fields.append(page.locator(f"#sweep-{position}-values textarea").input_value())
    return fields


# CodeMirror draws only the lines in view; its document holds them all (`cmTile` in the
# CodeMirror this Gradio ships, `cmView` in older ones). Until the editor is mounted (an
# accordion just opened) it reads as empty, so a wait on it keeps waiting instead of throwing.
READ_CODE = """() => {
  const content = document.querySelector('#json .cm-content');
  const tile = content && (content.cmTile ?? content.cmView);
  if (!tile) return '';
  return (tile.view ?? tile.rootView.view).state.doc.toString();
}"""


def shown_params(page: Page) -> PortraitParams:
    """The parameters JSON as the page holds it (the whole CodeMirror document)."""
    text = page.evaluate(READ_CODE)
    return PortraitParams.model_validate_json(text)


def test_a_three_by_three_grid_exports_one_png_that_restores_every_control(
    workbench_url, astronaut_file, tmp_path
) -> None:
    params = tmp_path / "grid.json"
    params.write_text(GRID.model_dump_json())
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        open_workbench(page, workbench_url)
        page.locator("#references input[type=file]").set_input_files(astronaut_file)
        page.get_by_role("button", name="Find faces").click()
        load_params(page, str(params))
        page.locator("#base input[type=file]").set_input_files(astronaut_file)  # the photo as base
        page.get_by_text("Sweep", exact=True).click()
        for position, (name, values) in zip("xy", AXES, strict=True):
            choose(page, position, name, values)
        page.wait_for_function("document.querySelector('#sweep-cost').innerText.includes('9 c')")
        page.get_by_role("button", name="Run sweep").click()
        link = page.locator("#sweep-files a[href*='.png']").first
        link.wait_for(timeout=120_000)
        sheet = tmp_path / "sheet.png"
        sheet.write_bytes(page.request.get(link.get_attribute("href")).body())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "workbench-grid.png"))
        # the PNG holds the grid's parameters, its axes, and every cell's score
        loaded = read_controls_file(sheet)
        assert loaded.params == GRID and loaded.axes == [
            ("identity.mask_feather", ["0.1", "0.3", "0.6"]),
            ("identity.seed", ["1", "2", "3"]),
        ]
        record = json.loads(Image.open(sheet).info[SWEEP_CHUNK])
        assert len(record["cells"]) == 9 and record["best"] is not None
        scores = [c["likeness"] for c in record["cells"]]  # None: no face found in that cell
        print("\nscores:", scores)
        assert scores[record["best"]] == max(s for s in scores if s is not None)
        best = record["cells"][record["best"]]["label"]
        assert page.get_by_text(f"{best} · likeness", exact=False).count() >= 1
        assert page.locator("#sweep-cells").get_by_text("· best").count() == 1
        # a fresh tab (its own session, default controls) loads the sheet
        fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        open_workbench(fresh, workbench_url)
        fresh.get_by_text("Sweep", exact=True).click()
        assert axis_fields(fresh)[:2] == ["identity.guidance_scale", "2, 5"]
        fresh.get_by_text("Reproduce and presets").click()
        fresh.locator("#source input[type=file]").set_input_files(str(sheet))
        fresh.get_by_role("button", name="Load parameters").click()
        fresh.get_by_text("Parameters as JSON").click()
        fresh.wait_for_function(f"({READ_CODE})().includes('ays-sigmas')")
        assert axis_fields(fresh) == [
            "identity.mask_feather",
            "0.1, 0.3, 0.6",
            "identity.seed",
            "1, 2, 3",
            "(none)",
            "",
        ]
        assert shown_params(fresh) == GRID
        # every widget holds its value: one edit makes the page rebuild the JSON from them all
        fresh.get_by_label("Idea").press("End")
        fresh.get_by_label("Idea").type(" II")
        fresh.wait_for_function(f"({READ_CODE})().includes('byzantine emperor II')")
        assert shown_params(fresh) == GRID.model_copy(update={"idea": "byzantine emperor II"})
        fresh.screenshot(path=str(ARTIFACTS / "workbench-grid-loaded.png"))
        browser.close()
