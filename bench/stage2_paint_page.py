"""Stage 2 through the page in headless Chromium, before and after a brush stroke: wall seconds
from the click to the result, this process's CPU (the server), its Chromium's CPU, and the
uploads the page made meanwhile (a benchmark, not a test; bench/stage2_paint.py times the
same run without the page).

    .venv/bin/python bench/stage2_paint_page.py [--steps 4] [--size 512] [--runs 2]

What it showed (#27 item 1, a 2-core machine at load 3-4): the server's CPU is the same with
a painted map (4 s either way); the uploads were not. Gradio's ImageEditor answers each ask
for its value by uploading its images again, and the page asked at every status message of
every event once any event had shown progress on the editor (workbench/editor_once.py).
Before (medians of 2 runs): 20 uploads unpainted, 41 painted, wall 7.0 / 7.5 s, Chromium CPU
3.6 / 5.3 s. Now stage 2 reads the editor once: 1 upload unpainted, 2-3 painted, wall
5.90 / 5.88 s, Chromium CPU 3.0 / 2.6 s. (Uploads here: POST …/upload requests.)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image
from playwright.sync_api import Page, sync_playwright
from rich.console import Console
from rich.table import Table
from skimage import data

from core.config import load_settings
from core.diffusion.params import CompositionParams, IdentityParams, PortraitParams
from core.diffusion.portrait import PortraitPipeline
from core.modelkit.layout import ModelLayout
from core.modelkit.tiny import build_tiny
from core.store.migrate import upgrade
from tests.workbench.test_editor_uploads import is_upload
from workbench.app import launch
from workbench.engine import Workbench

CHROMIUM = "/usr/bin/chromium"


def chromium_cpu() -> float:
    """CPU seconds so far of the Chromium processes this process started (not others')."""
    parent, cpu = {}, {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        parent[int(name)] = int(fields[1])
        if b"chromium" in command:
            cpu[int(name)] = sum(map(int, fields[11:15])) / os.sysconf("SC_CLK_TCK")
    mine = 0.0
    for pid, seconds in cpu.items():
        while pid > 1 and pid != os.getpid():
            pid = parent.get(pid, 1)
        mine += seconds if pid == os.getpid() else 0.0
    return mine


def stage_two(page: Page, runs_so_far: int, uploads: list) -> tuple[float, float, float, int]:
    uploads.clear()
    cpu, server, started = chromium_cpu(), time.process_time(), time.perf_counter()
    page.get_by_role("button", name="Run stage 2").click()
    page.wait_for_function(
        f"document.querySelector('#counters').innerText"
        f".includes('\"stage2_runs\": {runs_so_far + 1}')",
        timeout=600_000,
        polling=100,
    )
    wall = time.perf_counter() - started
    return wall, time.process_time() - server, chromium_cpu() - cpu, len(uploads)


def stroke(page: Page) -> None:
    box = page.locator("#map-editor canvas").first.bounding_box()
    y, middle = box["y"] + 0.4 * box["height"], box["x"] + box["width"] / 2
    page.mouse.move(middle - 0.2 * box["height"], y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(middle + (step / 10 - 0.5) * 0.4 * box["height"], y)
    page.mouse.up()
    page.wait_for_timeout(500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="base side and stage-2 crop")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows: dict[str, list[tuple[float, float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build_tiny(root / "models")
        pipeline = PortraitPipeline.load(
            ModelLayout(root / "models"), torch.device("cpu"), torch.float32
        )
        settings = load_settings(data_dir=root / "var", models_dir=root / "models")
        upgrade(settings.database)
        with socket.socket() as sock:  # a free loopback port
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        demo = launch(settings, Workbench(settings, pipeline), "127.0.0.1", port, block=False)
        astronaut = root / "astronaut.png"
        Image.fromarray(data.astronaut()).resize((args.size, args.size)).save(astronaut)
        params = root / "params.json"
        params.write_text(
            PortraitParams(
                composition=CompositionParams(prompt="portrait", width=64, height=64, steps=1),
                identity=IdentityParams(steps=args.steps, crop_size=args.size),
            ).model_dump_json()
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.route(  # nothing leaves the machine (the page asks for web fonts)
                "**/*", lambda r: r.continue_() if "127.0.0.1" in r.request.url else r.abort()
            )
            uploads: list[str] = []
            page.on("request", lambda r: uploads.append(r.url) if is_upload(r) else None)
            page.goto(f"http://127.0.0.1:{port}/")
            page.locator("#references input[type=file]").set_input_files(str(astronaut))
            page.get_by_role("button", name="Find faces").click()
            page.get_by_text("Reproduce and presets").click()
            page.locator("#source input[type=file]").set_input_files(str(params))
            page.get_by_role("button", name="Load parameters").click()
            page.wait_for_timeout(1000)
            page.locator("#base input[type=file]").set_input_files(str(astronaut))
            page.wait_for_timeout(2000)
            done = 0
            for name in ["warm-up", *["no paint"] * args.runs, "stroke", *["painted"] * args.runs]:
                if name == "stroke":
                    stroke(page)
                    continue
                rows.setdefault(name, []).append(stage_two(page, done, uploads))
                done += 1
            browser.close()
        demo.close()
    table = Table(title=f"stage 2 through the page: {args.steps} steps, {args.size}² crop")
    for column in ("what", "wall s", "server CPU s", "Chromium CPU s", "uploads"):
        table.add_column(column)
    for name in ("no paint", "painted"):
        medians = [statistics.median(r[k] for r in rows[name]) for k in range(4)]
        table.add_row(name, *(f"{m:.2f}" for m in medians[:3]), f"{medians[3]:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
