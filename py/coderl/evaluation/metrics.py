"""Per-dataset metrics from per-problem records (definitions and formulas: docs/metrics.md).

A record is one line of per_problem/<dataset>.jsonl. Only these keys are read here:
verdict, truncated, completion_tokens, prompt_tokens, gen_wall_s, exec_wall_s, tests_passed,
tests_total. `sandbox_error` and `generation_error` are infrastructure failures: such records are
left out of every denominator (the guard stops a run before they can matter) and counted in
n_excluded.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

VERDICTS = (
    "accepted",
    "wrong_answer",
    "runtime_error",
    "timeout",
    "memory_exceeded",
    "output_limit",
    "no_code",
    "prompt_too_long",
    "sandbox_error",
    "generation_error",
)
# The program ran to completion on every test it was given (it may still have printed a wrong
# answer). no_code ran nothing; output_limit was stopped mid-run, so neither is a success.
# prompt_too_long: the server refused the prompt as longer than its context allows (a deterministic
# HTTP 4xx): counted against the model, like no_code, and reported apart (n_prompt_too_long).
EXEC_SUCCESS = frozenset({"accepted", "wrong_answer"})
# Infrastructure failures (the sandbox, or the model server, failed): never the model's score.
INFRASTRUCTURE = frozenset({"sandbox_error", "generation_error"})


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def dataset_metrics(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of one dataset. Rates are fractions in [0, 1] (None when n == 0)."""
    records = list(records)
    counted = [r for r in records if r.get("verdict") not in INFRASTRUCTURE]
    n = len(counted)
    breakdown = {v: 0 for v in VERDICTS}
    for r in records:
        v = r.get("verdict")
        breakdown[v] = breakdown.get(v, 0) + 1
    accepted = breakdown["accepted"]
    exec_ok = sum(breakdown[v] for v in EXEC_SUCCESS)
    truncated = sum(1 for r in counted if r.get("truncated"))
    tokens = [float(r["completion_tokens"]) for r in counted if r.get("completion_tokens") is not None]
    prompt_tokens = [float(r["prompt_tokens"]) for r in counted if r.get("prompt_tokens") is not None]
    test_fracs = [
        r["tests_passed"] / r["tests_total"]
        for r in counted
        if r.get("tests_total") and r.get("tests_passed") is not None
    ]
    return {
        "n": n,
        "n_excluded": len(records) - n,
        "accepted": accepted,
        "accepted_at_1": _rate(accepted, n),
        "exec_success": exec_ok,
        "exec_success_rate": _rate(exec_ok, n),
        "no_code_rate": _rate(breakdown["no_code"], n),
        "n_prompt_too_long": breakdown["prompt_too_long"],
        "truncated_rate": _rate(truncated, n),
        "verdicts": breakdown,
        "mean_completion_tokens": _mean(tokens),
        "mean_prompt_tokens": _mean(prompt_tokens),
        "mean_test_pass_fraction": _mean(test_fracs),
        "generation_s": round(sum(float(r.get("gen_wall_s") or 0.0) for r in records), 3),
        "execution_s": round(sum(float(r.get("exec_wall_s") or 0.0) for r in records), 3),
    }


# What the history keeps per dataset (the full breakdown stays in metrics.json).
HISTORY_KEYS = (
    "n",
    "accepted_at_1",
    "exec_success_rate",
    "no_code_rate",
    "truncated_rate",
    "mean_completion_tokens",
    "n_excluded",
    "n_prompt_too_long",
)


def history_scores(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: metrics.get(k) for k in HISTORY_KEYS}
