#!/usr/bin/env bash
# make rl GPUS=N [RL_PROFILE=X] [GPU_MEM_GB=M] [ARGS="hydra.overrides ..."]
# Launches (or resumes) verl's GRPO trainer through `coderl rl`: plan check, effective config, a log
# per attempt under the run directory. tmux-friendly: Ctrl-C stops the trainer and its Ray processes;
# running the same command again resumes from the latest checkpoint.
set -euo pipefail
cd "$(dirname "$0")/.."
export GPUS="${GPUS:-1}"
exec .venv/bin/coderl rl --recipe "${RL_PROFILE:-default}" "$@"
