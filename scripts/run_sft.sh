#!/usr/bin/env bash
# make train GPUS=N [PROFILE=runbook] [NNODES=.. NODE_RANK=.. MASTER_ADDR=.. MASTER_PORT=..] [ARGS="hydra.overrides ..."]
# Launches (or resumes) verl SFT through `coderl train`: plan check, effective config, torchrun,
# a log per attempt under the run directory. tmux-friendly: Ctrl-C stops torchrun and its workers;
# running the same command again resumes from the latest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export GPUS="${GPUS:-1}" NNODES="${NNODES:-1}" NODE_RANK="${NODE_RANK:-0}" MASTER_PORT="${MASTER_PORT:-29500}"
exec .venv/bin/coderl train --recipe "${PROFILE:-default}" "$@"
