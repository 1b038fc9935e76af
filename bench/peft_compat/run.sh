#!/usr/bin/env bash
# Does an adapter saved by `apprentice train sft` load in Hugging Face PEFT and give our logits?
#
# 1. trains a small adapter with `apprentice train sft` on bench/peft_compat/sft.jsonl (or
#    uses ADAPTER=DIR), on the cached SmolLM2-135M-Instruct Q4_1 GGUF;
# 2. dumps apprentice's logits for a few prompts, adapter off and on, from the inference
#    kernel (Q4_1) and from the trainer's f32 forward (the `logits` example);
# 3. loads the GGUF in transformers (dequantized to f32) and the adapter with PeftModel,
#    checks tensor names and shapes, and compares logits (compare.py states the tolerances).
#
# Prints compare.py's JSON; exits 1 when a check fails. Knobs: ADAPTER, MODEL, THREADS (2),
# CARGO_TARGET_DIR, PEFT_VENV.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/peft_compat"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
THREADS="${THREADS:-2}"
export RAYON_NUM_THREADS="$THREADS" OMP_NUM_THREADS="$THREADS"
source "$ROOT/bench/python_stack.sh"

(cd "$ROOT" && cargo build --release --quiet -p apprentice-cli -p apprentice-train --example logits)
BIN="$CARGO_TARGET_DIR/release"
MODEL="${MODEL:-$("$BIN/apprentice" -q models fetch)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ -z "${ADAPTER:-}" ]; then
    ADAPTER="$WORK/adapter"
    "$BIN/apprentice" -q train sft --data "$HERE/sft.jsonl" --out "$ADAPTER" --model "$MODEL" \
        --lr 2e-3 --epochs 3 --grad-accum 1 --json >&2
fi
"$BIN/examples/logits" --model "$MODEL" --adapter "$ADAPTER" --out "$WORK/logits" >&2
"$PY" "$HERE/compare.py" --gguf "$MODEL" --adapter "$ADAPTER" --logits "$WORK/logits"
