"""verl's custom reward function API, backed by RewardScorer.

Select it in a verl 0.9.1 run with

    reward.custom_reward_function.path=pkg://coderl.reward
    reward.custom_reward_function.name=compute_score          # or compute_score_async
    +reward.custom_reward_function.reward_kwargs.mode=binary  # fraction | pass_plus_fraction

verl's reward loop (experimental/reward_loop: RewardLoopWorker -> the `naive` reward manager)
calls it once per answer with the decoded response: a plain function on the loop's default
thread pool, a coroutine function awaited on the loop. Both end in the same bounded pool of
judge threads (reward_kwargs `workers`, default execution.workers of configs/eval.yaml), so
`reward.num_workers` x workers should be about the machine's cores.

Keyword settings (reward_kwargs): mode, config (an eval.yaml path; default configs/eval.yaml),
sandbox ("local" or a SandboxFusion URL), workers, retries (sandbox failures re-tried before the
call raises).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import ConfigError
from .ground_truth import parse_ground_truth
from .scorer import get_scorer

# Passed by verl's reward managers when a reward model is configured; not ours to use.
_VERL_EXTRAS = frozenset({"reward_router_address", "reward_model_tokenizer"})
_SETTINGS = ("mode", "config", "sandbox", "workers", "retries")


def _settings(kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    unknown = set(kwargs) - _VERL_EXTRAS - set(_SETTINGS)
    if unknown:
        raise ConfigError(f"coderl.reward: unknown reward_kwargs {sorted(unknown)}; known: {list(_SETTINGS)}")
    mode = kwargs.get("mode", "binary")
    scorer_kw = {k: kwargs[k] for k in ("config", "sandbox", "workers", "retries") if kwargs.get(k) is not None}
    if "workers" in scorer_kw:
        scorer_kw["workers"] = int(scorer_kw["workers"])
    if "retries" in scorer_kw:
        scorer_kw["retries"] = int(scorer_kw["retries"])
    return mode, scorer_kw


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """verl's custom reward signature. Returns {score, acc, verdict, tests_passed, tests_total, tests_run, wall_s, extraction}."""
    mode, scorer_kw = _settings(kwargs)
    problem = parse_ground_truth(ground_truth, data_source)
    return get_scorer(**scorer_kw).score(solution_str, problem, mode)


async def compute_score_async(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict | None = None, **kwargs: Any
) -> dict[str, Any]:
    """The coroutine form: the event loop is free while the sandbox runs the answer."""
    mode, scorer_kw = _settings(kwargs)
    problem = parse_ground_truth(ground_truth, data_source)
    return await asyncio.wrap_future(get_scorer(**scorer_kw).submit(solution_str, problem, mode))


def compute_score_batch(
    data_sources: list, solution_strs: list, ground_truths: list, extra_infos: list | None = None, **kwargs: Any
) -> list[dict[str, Any]]:
    """The list form verl's `batch` reward manager calls: all answers judged concurrently."""
    mode, scorer_kw = _settings(kwargs)
    scorer = get_scorer(**scorer_kw)
    problems = [parse_ground_truth(g, d) for d, g in zip(data_sources, ground_truths, strict=True)]
    futures = [scorer.submit(s, p, mode) for s, p in zip(solution_strs, problems, strict=True)]
    return [f.result() for f in futures]
