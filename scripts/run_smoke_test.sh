#!/usr/bin/env bash
# make smoke [ARGS="--gpus 1 --model ... --train-file ..."]
# 10 training steps, checkpoints at 5 and 10, then the runbook checklist as PASS/FAIL lines.
# With no GPU it trains a tiny model on CPU with a toy data set, so it works on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/coderl smoke "$@"
