#!/usr/bin/env bash
# Does SFT on exported trajectories help SmolLM2-135M? The measurement behind issue 4's note:
#
# 1. data: the gold run of every demo task (`scripted:gold`) and VARIANTS imperfect scripted
#    agents per task (make_scripts.py: exploration, format slips, wrong edits the oracle
#    supervisor rejects or revises), all supervised by the oracle;
# 2. export: clean and recovery SFT rows, split by task (HOLDOUT of the tasks held out);
# 3. train: `apprentice train sft` on the training tasks' clean + recovery rows, with the
#    held-out tasks' clean rows as --eval: their assistant-token loss before (adapter off)
#    and after;
# 4. parse rate: `apprentice run --policy embedded` and `--policy embedded+lora=ADAPTER` on
#    the same tasks (EVAL_TASKS; default: the held-out tasks and EVAL_TRAIN_TASKS (4) training
#    tasks), no supervisor, MAX_STEPS turns each,
#    greedy decoding: parsed replies / replies. Both forms of each: replies prefilled
#    with the tool-call opening (the default policy) and written from the first token (`+free`).
#
# Prints the numbers and one JSON document; keeps everything in OUT (default
# bench/sft_quality/out). Knobs: OUT, VARIANTS (12), HOLDOUT (0.25), EPOCHS (1),
# MAX_TOKENS (2048), LR (2e-4), MAX_SECONDS (2400: all ~300 rows are ~1.1M tokens, hours at
# 40-100 tokens/s on 2 cores, so training stops at the bound and saves the adapter), MAX_STEPS
# (4), EVAL_TASKS, EVAL_TRAIN_TASKS, CARGO_TARGET_DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/bench/sft_quality"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$HERE/out}"
VARIANTS="${VARIANTS:-12}"
HOLDOUT="${HOLDOUT:-0.25}"
MAX_STEPS="${MAX_STEPS:-4}"
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release --quiet -p apprentice-cli)
A=("$CARGO_TARGET_DIR/release/apprentice" --db "$OUT/store.db" -q)
log() { echo "[$(date +%T)] $*" >&2; }

# 1. Data. Runs already in the store are kept (rerunning skips them).
have_run() { "${A[@]}" show "$1" --json >/dev/null 2>&1; }
have_run gold || "${A[@]}" run --tasks demo --policy scripted:gold --supervisor oracle --name gold --json >/dev/null
"${A[@]}" export sft --run gold --out "$OUT/gold.jsonl" >/dev/null
python3 "$HERE/make_scripts.py" "$OUT/gold.jsonl" "$OUT/scripts" "$VARIANTS" >/dev/null
RUNS=(--run gold)
for script in "$OUT"/scripts/*.json; do
    name="$(basename "$script" .json)"
    RUNS+=(--run "$name")
    have_run "$name" && continue
    log "run $name"
    "${A[@]}" run --tasks demo --task "${name%__v*}" --policy "scripted:$script" --supervisor oracle \
        --name "$name" --json >/dev/null
done

# 2. Export (the split is by task and seeded, so both views hold out the same tasks).
"${A[@]}" export sft "${RUNS[@]}" --variant clean --holdout "$HOLDOUT" --out "$OUT/clean.jsonl" --json >"$OUT/export-clean.json"
"${A[@]}" export sft "${RUNS[@]}" --variant recovery --holdout "$HOLDOUT" --out "$OUT/recovery.jsonl" --json >"$OUT/export-recovery.json"
cat "$OUT/clean.jsonl" "$OUT/recovery.jsonl" >"$OUT/train.jsonl"
HELD_OUT_TASKS="$(python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["task"] for l in open(sys.argv[1])})))' "$OUT/clean.heldout.jsonl")"
log "held-out tasks: $HELD_OUT_TASKS"

# 3. Train, with the held-out loss before and after.
if [ ! -f "$OUT/adapter/adapter_model.safetensors" ]; then
    log "train sft on $(wc -l <"$OUT/train.jsonl") rows"
    "${A[@]}" train sft --data "$OUT/train.jsonl" --eval "$OUT/clean.heldout.jsonl" --out "$OUT/adapter" \
        --epochs "${EPOCHS:-1}" --max-tokens "${MAX_TOKENS:-2048}" --lr "${LR:-2e-4}" \
        --max-seconds "${MAX_SECONDS:-2400}" --json >"$OUT/train.json"
fi

# 4. Tool-call parse rate, base vs adapter, same tasks and steps, greedy.
if [ -z "${EVAL_TASKS:-}" ]; then
    TRAIN_TASKS="$(python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["task"] for l in open(sys.argv[1])})[:int(sys.argv[2])]))' "$OUT/clean.jsonl" "${EVAL_TRAIN_TASKS:-4}")"
    EVAL_TASKS="$HELD_OUT_TASKS $TRAIN_TASKS"
fi
TASK_ARGS=()
for t in $EVAL_TASKS; do TASK_ARGS+=(--task "$t"); done
log "parse-rate tasks: $EVAL_TASKS"
for form in "" +free; do
    for side in base lora; do
        adapter=""
        [ "$side" = base ] || adapter="+lora=$OUT/adapter"
        policy="embedded$adapter$form"
        name="parse-$side${form:+-free}"
        have_run "$name" && continue
        log "run $name"
        "${A[@]}" run --tasks demo "${TASK_ARGS[@]}" --policy "$policy" --supervisor none \
            --max-steps "$MAX_STEPS" --name "$name" --json >"$OUT/$name.json" || true
    done
done
python3 "$HERE/report.py" "$OUT" "$HELD_OUT_TASKS"
