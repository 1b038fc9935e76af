#!/usr/bin/env bash
# Docker verification benchmark: per-instance time (container start to graded report) and
# throughput with N workers, for `apprentice verify --sandbox docker` against a floor of a
# plain `docker run` of the same eval steps (copy repo, one-commit git, git apply patch and
# test patch, pytest -rA) in the same environment image. Prints ratios.
#
# The official `swebench` harness is checked first: it needs Docker Hub (prebuilt images) or
# Docker Hub + repo.anaconda.com + GitHub (to build them); where those do not resolve, the
# plain `docker run` is the peer.
#
# Usage: bench/docker_verify/run.sh [WORKERS...]   (default: 1 2)
# Env:   APPRENTICE_BIN (default: build target-docker's debug binary), BENCH_TASKS (default 17)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-docker}"
if [ -z "${APPRENTICE_BIN:-}" ]; then
    cargo build -q -p apprentice-cli
    APPRENTICE_BIN="$CARGO_TARGET_DIR/debug/apprentice"
fi
export APPRENTICE_BIN
"$APPRENTICE_BIN" -q images build demo >/dev/null
exec python3 bench/docker_verify/bench.py "${@:-1 2}"
