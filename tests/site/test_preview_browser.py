"""The job page in real Chromium shows the portrait forming: several different live previews
arrive over server-sent events before the finished picture replaces them."""

import pytest

from tests.site.test_browser import browser_page, shot  # noqa: F401  (fixtures)

RECORD = """
window.__previews = [];
new MutationObserver(() => {
  const img = document.querySelector('#preview img');
  if (img && !document.querySelector('.result') && !window.__previews.includes(img.src)) {
    window.__previews.push(img.src);
  }
}).observe(document, {subtree: true, childList: true});
"""


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_job_page_shows_previews_forming_before_the_final_image(
    stack,
    server,
    browser_page,  # noqa: F811
    astronaut,
    tmp_path,
) -> None:
    page, problems, blocked = browser_page
    stack.start_worker(NARCIS_PORTRAIT_SIZE="256", NARCIS_PORTRAIT_STEPS="20")
    page.add_init_script(RECORD)
    photo = tmp_path / "me.png"
    astronaut.save(photo)
    page.goto(server + "/make")
    page.set_input_files("input[name=photos]", str(photo))
    page.fill("input[name=idea]", "byzantine emperor")
    page.check("input[name=restyle]")
    page.click("button[type=submit]")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector("#preview img", timeout=120_000)
    shot(page, "job-preview.png")
    page.wait_for_selector("#download", timeout=240_000)
    previews = page.evaluate("window.__previews")
    assert len(previews) >= 3, stack.logs()
    assert all(src.startswith("data:image/webp;base64,") for src in previews)
    assert page.locator(".result img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert problems == [] and blocked == []
