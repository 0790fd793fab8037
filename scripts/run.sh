#!/usr/bin/env bash
# Set up a fresh machine and run the whole stack on it: Redis (if none is running), the
# database migrations, models (tiny random ones unless real ones are configured), then the
# photowall and a worker under one supervisor. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
PORT=${PORT:-8000}

settings() { python -c "from core.config import load_settings as l; s = l(); print($1)"; }
data=$(settings "s.data_dir.resolve()")
models=$(settings "s.models_path")
redis_url=$(settings "s.redis_url")
mkdir -p "$data/redis"

procfile="$data/Procfile"
: > "$procfile"
if ! python -c "import redis, sys; redis.Redis.from_url('$redis_url', socket_connect_timeout=1).ping()" 2>/dev/null; then
    port=$(python -c "from urllib.parse import urlsplit; print(urlsplit('$redis_url').port or 6379)")
    echo "redis: redis-server --bind 127.0.0.1 --port $port --dir $data/redis --appendonly yes --appendfsync everysec --save ''" >> "$procfile"
fi

narcis db upgrade
if ! narcis models check --dir "$models" >/dev/null 2>&1; then
    echo "run: no usable models in $models; building the tiny random set (set NARCIS_MODELS_DIR for real ones)"
    narcis models tiny --dir "$models"
    # Random weights paint noise: keep the CPU work small so the demo answers in seconds.
    export NARCIS_PORTRAIT_SIZE=${NARCIS_PORTRAIT_SIZE:-256} NARCIS_PORTRAIT_STEPS=${NARCIS_PORTRAIT_STEPS:-8}
fi
cat >> "$procfile" <<PROCS
web: narcis serve --port $PORT
worker: narcis worker
PROCS

echo "run: narcis is starting at http://127.0.0.1:$PORT  (Ctrl-C stops everything)"
exec honcho -f "$procfile" -d "$PWD" start
