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
