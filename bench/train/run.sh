#!/usr/bin/env bash
# LoRA training throughput and peak memory: `apprentice train sft|dpo` against a plain
# PyTorch + PEFT loop (torch_train.py) and TRL's SFTTrainer / DPOTrainer (trl_train.py) on the
# same SmolLM2-135M GGUF, the same token ids (apprentice's chat
# template, written by the `tokenize` example), the same LoRA (rank 8, alpha 16, dropout 0.05,
# all seven projections), the same optimizer settings and the same number of CPU threads.
#
# Prints a line per kind and one JSON document with tokens/s, peak RSS and the ratios
# ours / each peer. Knobs: THREADS (2), RUNS (1; best run reported), SFT_ROWS (16), DPO_ROWS (8),
# MAX_TOKENS (1024), SFT_DATA / DPO_DATA (default: the rows in bench/train/data, exported
# from demo runs), MODEL, CARGO_TARGET_DIR, PEFT_VENV.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/train"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
THREADS="${THREADS:-2}"
MAX_TOKENS="${MAX_TOKENS:-1024}"
source "$ROOT/bench/python_stack.sh"

(cd "$ROOT" && cargo build --release --quiet -p apprentice-cli -p apprentice-train --example tokenize)
BIN="$CARGO_TARGET_DIR/release"
MODEL="${MODEL:-$("$BIN/apprentice" -q models fetch)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# Both sides read the same first N rows: the trainer cuts rows over MAX_TOKENS into pieces, so
# the token file can hold more lines than rows.
tokenize() { # kind rows n
    head -n "$3" "$2" >"$WORK/$1.rows.jsonl"
    "$BIN/examples/tokenize" --kind "$1" --data "$WORK/$1.rows.jsonl" --out "$WORK/$1.tokens.jsonl" \
        --model "$MODEL" --max-tokens "$MAX_TOKENS" >&2
    echo "$1=$WORK/$1.rows.jsonl:$WORK/$1.tokens.jsonl"
}
SFT="$(tokenize sft "${SFT_DATA:-$HERE/data/sft.jsonl}" "${SFT_ROWS:-16}")"
DPO="$(tokenize dpo "${DPO_DATA:-$HERE/data/dpo.jsonl}" "${DPO_ROWS:-8}")"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads: $THREADS, load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$PY" "$HERE/bench.py" --apprentice "$BIN/apprentice" --python "$PY" --gguf "$MODEL" \
    --threads "$THREADS" --runs "${RUNS:-1}" --max-tokens "$MAX_TOKENS" --kind "$SFT" --kind "$DPO"
