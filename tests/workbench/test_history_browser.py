"""History in real headless Chromium across a restart of the real `narcis workbench` process:
a run painted with every control set away from its default is reloaded, after the process
was stopped and started again, into every control by one click on its thumbnail."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from tests.helpers import ROOT
from tests.services import free_port
from tests.site.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.workbench.test_app import PASSWORD
from tests.workbench.test_browser import open_workbench
from workbench.controls import WIDGET_PATHS, params_to_controls

# Every control away from its default, so a control that is not restored shows.
EVERY = PortraitParams(
    idea="byzantine emperor",
    tier="fast",
    face_retries=2,
    composition=CompositionParams(
        prompt="byzantine emperor in gold",
        negative_prompt="blurry",
        width=64,
        height=72,
        steps=2,
        guidance_scale=6.5,
        guidance_cutoff=0.3,
        scheduler="euler",
        schedule="default",
        seed=1234567890123,
    ),
    identity=IdentityParams(
        prompt="a mosaic portrait",
        steps=2,
        guidance_scale=3.5,
        guidance_cutoff=0.1,
        scheduler="euler",
        schedule="ays-sigmas",
        style_strength=30,
        face_id_weight=2,
        class_word="person",
        crop_size=64,
        crop_margin=0.5,
        mask_core=0.8,
        mask_dilation=0.05,
        mask_feather=0.2,
        face_box=(0.1, 0.1, 0.9, 0.9),
        seed=77,
    ),
)
PAGE = {"style": "cinematic", "map.strength": 0.35, "map.invert": True}


@contextlib.contextmanager
def workbench_process(data: Path, models: Path, log: Path) -> Iterator[str]:
    """`narcis workbench` in its own process, this checkout's code, until the block ends."""
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "NARCIS_DATA_DIR": str(data),
        "NARCIS_DEVICE": "cpu",
        "NARCIS_WORKBENCH_PASSWORD": PASSWORD,
        "PYTHONPATH": f"{ROOT}:{ROOT / 'site'}",
    }
    command = [sys.executable, "-m", "cli.main", "workbench", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--models", str(models)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, process, log)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the workbench did not answer in {timeout} s:\n{log.read_text()}")


def set_page_controls(page: Page) -> None:
    """The controls beside the parameters, set as a person does."""
    page.locator("#control-idea").scroll_into_view_if_needed()
    page.get_by_role("combobox", name="Style", exact=True).click()
    page.get_by_role("option", name=PAGE["style"]).click()
    page.locator("#strength input[type=number]").fill(str(PAGE["map.strength"]))
    page.locator("#strength input[type=number]").press("Enter")
    page.get_by_label("Invert the map").check()


def paint(page: Page, photo: str, params: Path) -> None:
    page.locator("#references input[type=file]").set_input_files(photo)
    page.get_by_role("button", name="Find faces").click()
    page.get_by_text("Reproduce and presets").click()
    page.locator("#source input[type=file]").set_input_files(str(params))
    page.get_by_role("button", name="Load parameters").click()
    page.get_by_text("Parameters as JSON").click()
    page.wait_for_function("document.body.innerText.includes('a mosaic portrait')")
    set_page_controls(page)
    for stage in (1, 2):
        page.get_by_role("button", name=f"Run stage {stage}").click()
        page.wait_for_function(
            f"document.querySelector('#counters').innerText.includes('\"stage{stage}_runs\": 1')",
            timeout=120_000,
        )


def shown_value(page: Page, name: str) -> str:
    box = page.locator(f"#control-{name.replace('.', '-')}")
    field = box.locator("input[type=number], textarea, input:not([type=range])").first
    return field.input_value()


def same(shown: str, wanted) -> bool:
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        return float(shown) == float(wanted)
    return shown == str(wanted)


def test_a_run_reloads_into_every_control_after_a_restart(
    tiny_models, astronaut_file, tmp_path
) -> None:
    from core.store.migrate import upgrade

    data, log = tmp_path / "var", tmp_path / "workbench.log"
    data.mkdir()
    upgrade(f"sqlite+aiosqlite:///{(data / 'narcis.db').resolve()}")
    params = tmp_path / "every.json"
    params.write_text(EVERY.model_dump_json())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        with workbench_process(data, tiny_models, log) as url:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            open_workbench(page, url)
            paint(page, astronaut_file, params)
            page.close()
        with workbench_process(data, tiny_models, log) as url:  # a new process, same data
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            open_workbench(page, url)
            page.get_by_text("History", exact=True).click()
            runs = page.locator("#history-gallery button.thumbnail-item")
            runs.first.wait_for(timeout=30_000)
            assert runs.count() == 2  # stage 1 and stage 2, both kept
            runs.first.click()  # the newest: stage 2
            page.wait_for_function(
                "document.querySelector('#history-run').innerText.includes('stage 2')"
            )
            for folded in ("Stage 1, advanced", "Stage 2, advanced"):  # to read what is inside
                page.get_by_text(folded, exact=True).click()
            page.wait_for_function(  # drawn a moment after its section opens
                "(document.querySelector('#control-identity-prompt textarea') || {})"
                ".value === 'a mosaic portrait'"
            )
            wanted = params_to_controls(EVERY)
            wrong = {
                name: (shown_value(page, name), wanted[name])
                for name in WIDGET_PATHS
                if not same(shown_value(page, name), wanted[name])
            }
            assert wrong == {}
            style = page.get_by_role("combobox", name="Style", exact=True)
            assert style.input_value() == PAGE["style"]
            assert float(page.locator("#strength input[type=number]").input_value()) == 0.35
            assert page.get_by_label("Invert the map").is_checked()
            # The stage-1 run beside it: a slider between the two, and their difference
            runs.nth(1).click()
            page.wait_for_function(
                "document.querySelector('#history-run').innerText.includes('stage 1')"
            )
            page.locator("#history-compare img").nth(1).wait_for(timeout=10_000)
            page.locator("#history-difference img").wait_for(timeout=10_000)
            page.locator("#history").screenshot(path=str(ARTIFACTS / "workbench-history.png"))
        browser.close()
