"""The recipes `make bench-train` compares, as deltas on the recipes `make train` runs.

Each bench recipe is `base: default` or `base: runbook` (configs/sft.yaml, configs/sft_runbook.yaml)
plus the keys it varies; coderl.training.recipe.recipe_to_overrides turns it into verl overrides,
the same code `make train` uses, so a published speed-up is a speed-up of what `make train` runs.
The bench pins only what it owns: the model, the data, the number of steps, logging and
checkpointing (`bench_overrides`).
"""

from __future__ import annotations

import copy
from pathlib import Path

from ...errors import ConfigError
from ..recipe import load_recipe, recipe_to_overrides

# the measured boxes have no flash-attn: the runbook recipe's verl default (flash_attention_2) would
# not run there, so the bench measures the runbook with sdpa, as it always did
_RUNBOOK_SDPA = {"base": "runbook", "model": {"attn_implementation": "sdpa"}}

BENCH_RECIPES: dict[str, dict] = {
    # micro batches of 2 samples padded to the longer one, sdpa with a padding mask
    "runbook": _RUNBOOK_SDPA,
    # measured before this work (docs/throughput.md, "Before this work"): remove padding + dynamic
    # batch, still sdpa (a dense packed mask)
    "rmpad_sdpa": {
        **_RUNBOOK_SDPA,
        "batch": {"remove_padding": True, "dynamic_batch": True, "max_token_len_per_gpu": 16384},
    },
    # configs/sft.yaml as it is
    "default": {"base": "default"},
    "default_noliger": {"base": "default", "training": {"use_liger": False}},
    "default_nockpt": {"base": "default", "model": {"gradient_checkpointing": False}},
    "default_nocompile": {"base": "default", "training": {"torch_compile": False}},
    # the default of 2026-11-27 before fast_logprobs: verl's per-token logsumexp loop
    "default_rowloop": {"base": "default", "training": {"fast_logprobs": False}, "batch": {"balance_tokens": False}},
    # the default before token-balanced ranks: rank r gets every dp-th sample of the shuffled order
    "default_unbalanced": {"base": "default", "batch": {"balance_tokens": False}},
    # logits only for the tokens the loss counts (coderl.training.in_verl.loss_token_logits)
    "default_losslogits": {"base": "default", "training": {"loss_token_logits": True}},
    # FSDP2 reduce-scatters gradients in bf16 instead of fp32 (half the bytes; changes the rounding)
    "default_bf16reduce": {
        "base": "default",
        "verl_overrides": ["+engine.mixed_precision={param_dtype:bf16,reduce_dtype:bf16,buffer_dtype:fp32}"],
    },
    # explicit forward prefetch of the next layer's all-gather; keep unsharded params between fwd and bwd
    "default_prefetch": {"base": "default", "verl_overrides": ["engine.forward_prefetch=True"]},
    "default_noreshard": {"base": "default", "verl_overrides": ["engine.reshard_after_forward=False"]},
}


def bench_recipe(
    name: str,
    *,
    model: Path,
    data: Path,
    steps: int,
    ckpt_dir: Path,
    tok_per_gpu: int,
    global_batch: int | None = None,
    max_length: int | None = None,
) -> dict:
    """The validated recipe of a bench run: the delta, plus what the bench owns."""
    if name not in BENCH_RECIPES:
        raise ConfigError(f"unknown recipe '{name}'; choose from {', '.join(BENCH_RECIPES)}")
    r = copy.deepcopy(BENCH_RECIPES[name])
    r["name"] = name
    r.setdefault("model", {})["path"] = str(model)
    r.setdefault("data", {}).update(train_files=str(data), val_files=None)
    r.setdefault("training", {}).update(epochs=1, max_steps=steps)
    r["logging"] = {"project": "bench", "experiment": name, "backends": ["console"]}
    r["checkpoint"] = {
        "dir": str(ckpt_dir),
        "save_freq": 1 << 30,
        "test_freq": -1,
        "resume": "disable",
        "save_hf": False,
        "save_optimizer": False,
        "max_to_keep": None,
    }
    # CPU smoke runs of the bench shrink the workload (not comparable to GPU rows)
    if global_batch is not None:
        r.setdefault("batch", {})["global_batch_size"] = global_batch
    if max_length is not None:
        r["data"]["max_length"] = max_length
    if load_recipe(r)["batch"]["dynamic_batch"]:  # the bench's --max-token-len-per-gpu
        r.setdefault("batch", {})["max_token_len_per_gpu"] = tok_per_gpu
    return load_recipe(r)


# What the bench sets that a recipe cannot say: no checkpoints while timing (verl always saves at the
# last step: keep that save tiny)
PINNED = {"trainer.save_freq": "-1", "checkpoint.save_contents": "[extra]"}


def pin(overrides: list[str], pins: dict[str, str]) -> list[str]:
    """Replace (or add) `key=value` overrides; hydra refuses two values for one key."""
    out = [o for o in overrides if o.split("=", 1)[0] not in pins]
    return out + [f"{k}={v}" for k, v in pins.items()]


def bench_overrides(
    name: str,
    *,
    model: Path,
    data: Path,
    n_gpus: int,
    steps: int,
    ckpt_dir: Path,
    device: str,
    tok_per_gpu: int,
    global_batch: int | None = None,
    max_length: int | None = None,
    pins: dict[str, str] | None = None,
) -> list[str]:
    """verl overrides of one bench run: recipe_to_overrides of the bench recipe, then the bench's pins."""
    recipe = bench_recipe(
        name,
        model=model,
        data=data,
        steps=steps,
        ckpt_dir=ckpt_dir,
        tok_per_gpu=tok_per_gpu,
        global_batch=global_batch,
        max_length=max_length,
    )
    return pin(recipe_to_overrides(recipe, n_gpus, 1, device), {**PINNED, **(pins or {})})
