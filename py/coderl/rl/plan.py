"""Memory, disk and time plan for a GRPO run (`make plan RL=1 GPUS=N GPU_MEM_GB=M`; `make rl` runs it first).

Per GPU, verl's hybrid engine alternates two phases on the same GPUs (N = GPUs, P = parameters):
  training   the actor's FSDP2 state 16P/N (fp32 params, grads, AdamW m+v) + working bf16 layers +
             activations of one micro batch of batch.max_token_len_per_gpu tokens (coderl.training.plan's
             formulas, calibrated on SFT) + the reference model 2P/N when a KL term needs one
  rollout    what stays resident (the actor state minus what training.param_offload/optimizer_offload
             move to host RAM between phases, the reference) + vLLM's budget, rollout.gpu_memory_utilization
             x GPU memory, which holds its bf16 weights 2P/TP and the KV cache
The KV cache left in vLLM's budget says how many answers one engine holds at full length.

Time per step: rollout = answers x mean answer tokens / (generation tokens/s per GPU x N); reward =
answers / (coderl.reward solutions/s per core, from `make bench-reward`'s newest result in
docs/results/, x host cores). Generation speed is an input (not measured in this project).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ConfigError, TrainingError
from ..paths import repo_root
from ..training.plan import (
    GB,
    RUNTIME_OVERHEAD_GB,
    USABLE_FRACTION,
    Workload,
    disk_plan,
    memory_plan,
    model_shape,
    recipe_disk_plan,
)
from .recipe import world_plan

log = logging.getLogger(__name__)

VLLM_OVERHEAD_GB = 1.0  # CUDA graphs and sampler buffers inside vLLM's budget (typical, not measured here)
ASSUMED_GEN_TOK_S = 2500.0  # generation tokens/s per GPU for a 7B model under vLLM: an assumption, pass your own
ASSUMED_ANSWER_TOKENS = 600  # mean answer length: an assumption until a run logs response_length/mean


@dataclass
class RLPlan:
    model: str
    params_b: float
    world_size: int
    answers_per_step: int
    train_phase_gb: float
    rollout_phase_gb: float
    actor_state_gb: float
    resident_during_rollout_gb: float
    ref_gb: float
    vllm_budget_gb: float
    vllm_weights_gb: float
    kv_cache_gb: float
    kv_tokens: int
    full_length_answers_in_kv: int
    usable_gb: float
    fits: bool
    rollout_s: float
    reward_s: float
    reward_basis: str
    disk_per_checkpoint_gb: float
    notes: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def latest_reward_bench(results_dir: Path | None = None) -> tuple[float, str] | None:
    """(coderl.reward solutions/s per core, where it comes from) from the newest bench-reward result."""
    d = results_dir or repo_root() / "docs" / "results"
    # <date>_bench_reward_*.json (bench_record, since 2026-12-01) or bench_reward_<date>*.json (before):
    # the newest day first, the bench_record form first within a day, then by name as before.
    found = []
    for f in {*d.glob("bench_reward_*.json"), *d.glob("*_bench_reward_*.json")}:
        new_form = not f.name.startswith("bench_reward_")
        day = f.name[:10] if new_form else f.name[len("bench_reward_") :][:10]
        found.append(((day, new_form, f.name), f))
    for _, f in sorted(found, reverse=True):
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            continue
        for row in data.get("batch", []):
            if str(row.get("scorer", "")).startswith("coderl.reward") and row.get("solutions_per_s_per_core"):
                return float(
                    row["solutions_per_s_per_core"]
                ), f"{f.name} ({data.get('date')}, {data.get('machine', {}).get('cpus')} cores)"
    return None


def make_rl_plan(
    recipe: dict,
    model: str,
    gpus: int,
    gpu_mem_gb: float,
    *,
    host_cores: int | None = None,
    gen_tok_s: float = ASSUMED_GEN_TOK_S,
    answer_tokens: int = ASSUMED_ANSWER_TOKENS,
) -> RLPlan:
    shape = model_shape(model)
    wp = world_plan(recipe, gpus)
    P, N = shape.params(), wp["world_size"]
    d, r, a, b, t, c = (recipe[k] for k in ("data", "rollout", "algorithm", "batch", "training", "checkpoint"))
    seq = d["max_prompt_length"] + d["max_response_length"]
    w = Workload(
        gpus=gpus,
        gpu_mem_gb=gpu_mem_gb,
        micro_batch=b["micro_batch_size_per_gpu"],
        max_length=seq,
        remove_padding=True,
        max_token_len_per_gpu=max(b["max_token_len_per_gpu"], seq),
    )
    mp = memory_plan(shape, w)
    actor_state = mp.params_gb + mp.grads_gb + mp.optimizer_gb
    ref = 2 * P / N / GB if a["kl_coef"] > 0 else 0.0
    train = mp.total_peak_gb + ref
    offloaded = (mp.params_gb if t["param_offload"] else 0.0) + (mp.optimizer_gb if t["optimizer_offload"] else 0.0)
    resident = actor_state - offloaded + ref + RUNTIME_OVERHEAD_GB
    budget = r["gpu_memory_utilization"] * gpu_mem_gb
    weights = 2 * P / r["tensor_parallel"] / GB
    kv = budget - weights - VLLM_OVERHEAD_GB
    per_token = 2 * shape.layers * shape.kv_heads * shape.d * 2 / r["tensor_parallel"]  # K and V, bf16, per TP shard
    kv_tokens = int(max(kv, 0) * GB / per_token)
    rollout = resident + budget
    usable = gpu_mem_gb * USABLE_FRACTION
    notes = []
    if kv <= 0:
        notes.append(
            f"vLLM's budget {budget:.1f} GB cannot hold the {weights:.1f} GB of weights: raise "
            f"rollout.gpu_memory_utilization or rollout.tensor_parallel"
        )
    if rollout > usable:
        notes.append(
            f"rollout phase {rollout:.1f} GB > {usable:.1f} GB usable: lower rollout.gpu_memory_utilization, "
            f"set training.param_offload/optimizer_offload, or use more GPUs"
        )
    if train > usable:
        notes.append(
            f"training phase {train:.1f} GB > {usable:.1f} GB usable: lower batch.max_token_len_per_gpu or use more GPUs"
        )
    cores = host_cores or os.cpu_count() or 1
    bench = latest_reward_bench()
    if bench:
        sps, basis = bench
        reward_s = wp["answers_per_step"] / (sps * cores)
        basis = f"{sps} solutions/s/core x {cores} cores, from {basis}"
    else:
        reward_s, basis = float("nan"), "no bench-reward result in docs/results (run make bench-reward)"
    rollout_s = wp["answers_per_step"] * answer_tokens / (gen_tok_s * N)
    dp = disk_plan(shape, 1, 1, save_optimizer=c["save_optimizer"], save_hf=c["save_hf"])
    return RLPlan(
        model=shape.name,
        params_b=P / 1e9,
        world_size=N,
        answers_per_step=wp["answers_per_step"],
        train_phase_gb=train,
        rollout_phase_gb=rollout,
        actor_state_gb=actor_state,
        resident_during_rollout_gb=resident,
        ref_gb=ref,
        vllm_budget_gb=budget,
        vllm_weights_gb=weights,
        kv_cache_gb=max(kv, 0.0),
        kv_tokens=kv_tokens,
        full_length_answers_in_kv=kv_tokens // seq,
        usable_gb=usable,
        fits=not notes,
        rollout_s=rollout_s,
        reward_s=reward_s,
        reward_basis=basis,
        disk_per_checkpoint_gb=dp.per_checkpoint_gb,
        notes=notes,
    )


def format_rl_plan(p: RLPlan, gen_tok_s: float, answer_tokens: int) -> str:
    lines = [
        f"RL plan: {p.model} ({p.params_b:.2f}B params) on {p.world_size} GPU(s), {p.answers_per_step} answers per step",
        f"  training phase   {p.train_phase_gb:6.1f} GB/GPU  (actor state {p.actor_state_gb:.1f}, reference {p.ref_gb:.1f}, "
        f"working layers + activations + runtime)",
        f"  rollout phase    {p.rollout_phase_gb:6.1f} GB/GPU  (resident {p.resident_during_rollout_gb:.1f} + vLLM budget "
        f"{p.vllm_budget_gb:.1f}: weights {p.vllm_weights_gb:.1f}, KV cache {p.kv_cache_gb:.1f} = {p.kv_tokens:,} tokens, "
        f"{p.full_length_answers_in_kv} full-length answers at once)",
        f"  usable           {p.usable_gb:6.1f} GB/GPU  -> {'FITS' if p.fits else 'DOES NOT FIT'}",
        f"  time per step    rollout ~{p.rollout_s:.0f} s (assumes {gen_tok_s:,.0f} generated tokens/s/GPU, {answer_tokens} "
        f"tokens per answer: not measured here), reward ~{p.reward_s:.1f} s ({p.reward_basis})",
        f"  disk             {p.disk_per_checkpoint_gb:.1f} GB per checkpoint (model shards + optimizer + HF export)",
    ]
    lines += [f"  fix: {n}" for n in p.notes]
    return "\n".join(lines)


def rl_memory_line(recipe: dict, model: str, gpus: int, gpu_mem_gb: float) -> str:
    try:
        p = make_rl_plan(recipe, model, gpus, gpu_mem_gb)
    except ConfigError as e:
        return f"plan          skipped ({e})"
    return (
        f"plan          training {p.train_phase_gb:.1f} GB, rollout {p.rollout_phase_gb:.1f} GB of {p.usable_gb:.1f} "
        f"usable per GPU: {'fits' if p.fits else 'DOES NOT FIT (' + '; '.join(p.notes) + ')'}"
    )


def rl_disk_check(recipe: dict, model: str, run_dir: Path, total_steps: int, start_step: int) -> None:
    """Refuse a run whose remaining checkpoints cannot fit on the disk under run_dir."""
    try:
        shape = model_shape(model)
    except ConfigError as e:
        log.warning("disk check skipped: %s", e)
        return
    d = recipe_disk_plan(recipe, shape, run_dir, total_steps, start_step)
    if d.fits is False:
        raise TrainingError(
            f"RL checkpoints will not fit on the disk under {run_dir}: {d.saves} more save(s) x {d.per_checkpoint_gb:.1f} GB, "
            f"{d.kept} kept = {d.run_total_gb:.1f} GB, but only {d.free_gb:.1f} GB is free. Fix: set checkpoint.max_to_keep, "
            f"raise checkpoint.save_freq, or use a bigger disk (make plan RL=1)"
        )


def plan_rl_run(
    rl_recipe: str,
    model: str | None,
    gpus: int,
    gpu_mem_gb: float,
    host_cores: int | None = None,
    gen_tok_s: float | None = None,
    answer_tokens: int | None = None,
) -> tuple[RLPlan, float, int]:
    """The plan `coderl plan --rl` prints: (plan, generation tokens/s and answer tokens it assumed)."""
    from ..training.recipe import load_recipe
    from .recipe import BEST_SFT, load_rl_recipe, resolve_start_model

    recipe = load_rl_recipe(rl_recipe)
    if not model:
        # best_sft before any SFT evaluation: plan for the shape SFT starts from (configs/sft.yaml's model)
        model = load_recipe("default")["model"]["path"] if recipe["model"]["path"] == BEST_SFT else None
        model = model or resolve_start_model(recipe)
    gen = gen_tok_s or ASSUMED_GEN_TOK_S
    ans = answer_tokens or ASSUMED_ANSWER_TOKENS
    plan = make_rl_plan(recipe, model, gpus, gpu_mem_gb, host_cores=host_cores, gen_tok_s=gen, answer_tokens=ans)
    return plan, gen, ans
