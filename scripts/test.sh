#!/usr/bin/env bash
# Set up everything from scratch if needed, lint, then run the whole test suite.
# With arguments, they go to pytest as they are (one file, -k, ...): no lanes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ $# -gt 0 ]; then
    exec .venv/bin/python -m pytest "$@"
fi

# Two lanes. Most tests wait on real processes, servers and browsers, so they run two at a
# time (pytest-xdist, one worker per core; a worker steals queued tests when it runs dry).
# Tests marked `serial` assert on timing (latency bounds, lease deadlines): they run alone,
# after, so that a neighbour's load cannot fail them. Exit 5 means "no test selected".
lane() {
    local status=0
    .venv/bin/python -m pytest "$@" || status=$?
    [ "$status" -eq 5 ] && status=0
    return "$status"
}
failed=0
lane -n "${NARCIS_TEST_WORKERS:-2}" --dist worksteal -m "not serial" || failed=1
lane -m serial || failed=1
exit "$failed"
