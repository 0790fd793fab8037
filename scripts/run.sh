#!/usr/bin/env bash
# Set up a fresh machine and run narcis. Until the web stack lands this paints one
# composition (stage 1) with whatever models are configured, tiny random ones by default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

models=$(python -c "from core.config import load_settings; print(load_settings().models_path)")
if ! narcis models check --dir "$models" >/dev/null 2>&1; then
    echo "run: no usable models in $models; building the tiny random set (NARCIS_MODELS_DIR to override)"
    narcis models tiny --dir "$models"
fi
out=var/out/composition.png
narcis compose --models "$models" --prompt "${1:-byzantine emperor, gold mosaic, portrait}" \
    --width 256 --height 256 --steps 10 --seed 7 --out "$out"
echo "run: open $out (its parameters are inside: narcis compose --params $out --out again.png)"
