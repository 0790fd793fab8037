#!/usr/bin/env bash
# Prepare a fresh machine: a virtual environment in .venv with narcis and its tools.
# Safe to re-run; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# System services the tests and the one-machine stack use (Debian packages).
need=()
command -v redis-server >/dev/null || need+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)  # the site's browser tests
command -v wrk >/dev/null || need+=(wrk)            # the site's benchmark
command -v npm >/dev/null || need+=(npm)
ls /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 >/dev/null 2>&1 || need+=(faketime)  # lease tests: a host whose clock runs ahead
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: please install: ${need[*]} (apt-get install ${need[*]})" >&2
        exit 1
    fi
    echo "setup: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi

# torch first, pinned: a looser requirement pulled in by another package would fetch a
# multi-GB CUDA build. On a GPU host set NARCIS_TORCH to the wheel you want.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install --quiet "${NARCIS_TORCH:-torch==2.13.0}"
fi
.venv/bin/pip install --quiet -e ".[dev${NARCIS_EXTRAS:+,$NARCIS_EXTRAS}]"
# htmx from the npm registry, pinned by site/package-lock.json, served from our own static files.
if [ ! -f site/photowall/static/vendor/htmx.min.js ] || [ site/package-lock.json -nt site/photowall/static/vendor/htmx.min.js ]; then
    npm ci --prefix site --ignore-scripts --no-audit --no-fund --silent
    mkdir -p site/photowall/static/vendor
    cp site/node_modules/htmx.org/dist/htmx.min.js site/node_modules/htmx-ext-sse/dist/sse.min.js \
        site/photowall/static/vendor/
fi
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
