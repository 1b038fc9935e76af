#!/usr/bin/env bash
# Per-step harness overhead: apprentice (local sandbox) vs mini-swe-agent. See README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${BENCH_VENV:-/tmp/bench-venv}"
REPEATS="${REPEATS:-3}"

echo "== building apprentice (release)" >&2
(cd "$ROOT" && cargo build --release -q -p apprentice-cli)
BIN="$ROOT/target/release/apprentice"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import minisweagent' >/dev/null 2>&1; then
  echo "== creating $VENV and installing mini-swe-agent from PyPI" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q mini-swe-agent
fi
"$VENV/bin/python" -c 'import minisweagent; print("== mini-swe-agent", minisweagent.__version__)' 2>/dev/null >&2

# Never let mini-swe-agent reach for a model provider; this benchmark uses only its deterministic test model.
export MSWEA_SILENT_STARTUP=1 LITELLM_LOCAL_MODEL_COST_MAP=True

python3 "$HERE/mini_bench.py" measure --apprentice "$BIN" --mini-python "$VENV/bin/python" --repeats "$REPEATS"
