from bot.formatting import progress_line, settings_text
from bot.parameters import DEFAULTS
from core.jobs.events import JobEvent


def test_formatting_functions() -> None:
    step = JobEvent(job_id="j", type="step", stage="identity", step=5, total=10)
    assert progress_line(step, "pirate #1") == "pirate #1 · face `████████░░░░░░░░` 5/10"
    failed = JobEvent(job_id="j", type="failed", reason="no face found in photo 1")
    assert progress_line(failed) == "⚠️ no face found in photo 1"
    text = settings_text(DEFAULTS)
    assert "`production_mode` = **on**" in text and "`weight` = **1.6**" in text
