"""The audit's own rule for "every storing attempt has ended", on worker log lines."""

import json

from tests.core.jobs.audit import settled


def _line(job_id: str, message: str) -> str:
    return json.dumps({"level": "info", "message": message, "job_id": job_id})


def test_an_attempt_still_storing_is_not_settled_by_another_jobs_loss_before_storing():
    logs = [
        _line("a", "attempt 1 lost the job before storing; nothing stored"),
        _line("b", "storing outputs of attempt 1"),  # b is writing; a cancel refuses it next
    ]
    assert not settled("\n".join(logs))  # was: settled, and b's outputs were seen
    logs.append(_line("b", "attempt 1 lost the job while storing; its outputs are deleted"))
    assert settled("\n".join(logs))
    logs += [_line("b", "storing outputs of attempt 2")]
    assert not settled("\n".join(logs))
    logs += [_line("b", "stored outputs of attempt 2; done in 1.0 s")]
    assert settled("\n".join(logs))
