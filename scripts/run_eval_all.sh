#!/usr/bin/env bash
# make eval-all: evaluate every checkpoint under CKPT_ROOT (tmux-friendly; safe to re-run: finished
# evaluations are skipped and a killed run resumes from its caches). Extra arguments go to coderl eval-all.
# EVAL_GPUS=N [TP=k]: N/k evaluations at once on this box (Ray); RAY_ADDRESS=...: across a Ray cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CKPT_ROOT:?set CKPT_ROOT to the folder holding global_step_N/}"
par=()
[ -n "${EVAL_GPUS:-}" ] && par+=(--gpus "$EVAL_GPUS")
[ -n "${TP:-}" ] && par+=(--tp "$TP")
[ -n "${RAY_ADDRESS:-}" ] && par+=(--ray-address "$RAY_ADDRESS")
exec .venv/bin/coderl eval-all --ckpt-root "$CKPT_ROOT" --sandbox "${SANDBOX:-local}" --phase "${PHASE:-phase1_sft}" ${par[@]+"${par[@]}"} "$@"
