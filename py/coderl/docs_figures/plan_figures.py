"""The memory planner's prediction for the `make train GPUS=4` run, beside what verl measured there.

The plan is computed now from the code (coderl.training.plan) for the default recipe on 4x 141 GB,
so a change of the planner shows up as a changed figure, not as a stale sentence.
"""

from __future__ import annotations

from . import fmt
from .raw import Raw
from .train import accept_timing


def predicted_peak_gb() -> float:
    from ..training.plan import memory_plan, model_shape, workload_from_recipe
    from ..training.recipe import load_recipe

    recipe = load_recipe("default")
    w = workload_from_recipe(recipe, 4, 1, 141.0)
    return memory_plan(model_shape(recipe["model"]["path"]), w).total_peak_gb


def _gaps(raw: Raw) -> tuple[float, float]:
    """(reserved - plan) / reserved and plan / allocated - 1, verl's peaks over all 20 steps."""
    plan, acc = predicted_peak_gb(), accept_timing(raw)
    return (acc["verl_max_reserved_gb"] - plan) / acc["verl_max_reserved_gb"], plan / acc["verl_max_allocated_gb"] - 1


INLINE = {
    "plan.peak_gb": lambda raw: fmt.fixed(predicted_peak_gb(), 1),
    "plan.under_reserved": lambda raw: fmt.pct(_gaps(raw)[0]),
    "plan.over_allocated": lambda raw: fmt.pct(_gaps(raw)[1], 0),
}


def _plan():
    from ..training.plan import make_plan, workload_from_recipe
    from ..training.recipe import load_recipe

    recipe = load_recipe("default")
    c = recipe["checkpoint"]
    return make_plan(
        recipe["model"]["path"],
        workload_from_recipe(recipe, 4, 1, 141.0),
        total_steps=20,
        save_freq=10,
        save_optimizer=c["save_optimizer"],
    )


def memory_terms(raw: Raw) -> str:
    m = _plan().memory
    return (
        f"params {m.params_gb:.1f} + grads {m.grads_gb:.1f} + AdamW {m.optimizer_gb:.1f} + bf16 working copy "
        f"{m.working_params_gb:.1f} + activations/logits {m.activations_peak_gb:.1f} + runtime {m.runtime_gb:.1f}"
    )


def checkpoint_terms(raw: Raw) -> str:
    d = _plan().disk
    return (
        f"{d.per_checkpoint_gb:.1f} GB (model shards {d.model_shards_gb:.1f} + optimizer {d.optimizer_gb:.1f} + "
        f"HF export {d.hf_export_gb:.1f})"
    )


INLINE.update({"plan.memory_terms": memory_terms, "plan.checkpoint_terms": checkpoint_terms})


def runbook_box_plan(raw: Raw) -> str:
    """docs/hardware.md's `make plan GPUS=4 GPU_MEM_GB=32` (the runbook's 4x 32 GB box), computed now.

    The memory part and the verdict only: the disk part depends on the free disk of the machine
    that renders it, so it is left out (run_dir=None gives no disk plan).
    """
    from ..training.plan import format_plan, make_plan, workload_from_recipe
    from ..training.recipe import load_recipe

    recipe = load_recipe("default")
    plan = make_plan(recipe["model"]["path"], workload_from_recipe(recipe, 4, 1, 32.0))
    return f"```\n$ make plan GPUS=4 GPU_MEM_GB=32    # memory part; the disk part depends on the free disk\n{format_plan(plan)}\n```"


TABLES = {"plan.runbook_box": runbook_box_plan}


def peak_gb(gpus: int, gpu_mem_gb: float) -> float:
    """The plan's per-GPU peak for the default recipe on `gpus` cards of `gpu_mem_gb`."""
    from ..training.plan import memory_plan, model_shape, workload_from_recipe
    from ..training.recipe import load_recipe

    recipe = load_recipe("default")
    return memory_plan(
        model_shape(recipe["model"]["path"]), workload_from_recipe(recipe, gpus, 1, gpu_mem_gb)
    ).total_peak_gb


INLINE["plan.2x80.peak_gb"] = lambda raw: fmt.fixed(peak_gb(2, 80.0), 1)
