"""The Phase 2 GRPO timings on CPU (tests/rl/test_rl_train.py runs of 2026-12-01) in docs/performance.md
and docs/rl.md, from docs/results/rl_cpu_2026-12-01_transcribed.json (transcribed: the runs'
output was not kept). Each run holds [low, high] ranges over its steps.
"""

from __future__ import annotations

from . import fmt
from .raw import Raw

RL_CPU = "results/rl_cpu_2026-12-01_transcribed.json"


def span(v: list[float], unit: str = "") -> str:
    """[low, high] as '27-29 s', or '35 s' when both are the same."""
    # both ends with the decimals of the more precise one: 4.0-5.6 and 0.25-0.50, not 4-5.6
    digits = max(len(f"{x:g}".partition(".")[2]) for x in v)
    lo, hi = (f"{x:.{digits}f}" for x in v)
    return (lo if lo == hi else f"{lo}-{hi}") + unit


def table(raw: Raw) -> str:
    rows = []
    for r in raw.key(RL_CPU, "runs"):
        s = span(r["s_per_step"]) + (f" (load average {r['load']})" if "load" in r else "")
        reward = span(r["mean_reward"]) + f" ({r['reward_note']})"
        rows.append(
            [r["start_model"], f"{r['answers']} x {r['max_tokens']}", s, span(r["generation_s"], " s"),
             span(r["old_log_probs_s"], " s"), reward]
        )  # fmt: skip
    header = ["start model", "answers x max tokens", "s/step", "generation", "old log-probs", "mean reward"]
    return fmt.table(header, rows) + f"\n\nRaw (transcribed, the runs' output was not kept): docs/{RL_CPU}."


def _run(raw: Raw, i: int) -> dict:
    return raw.key(RL_CPU, "runs", i)


INLINE = {
    "rl_cpu.random.step_s": lambda raw: span(_run(raw, 0)["s_per_step"], " s"),
    "rl_cpu.random.generation_s": lambda raw: span(_run(raw, 0)["generation_s"], " s"),
    "rl_cpu.random.old_log_probs_s": lambda raw: span(_run(raw, 0)["old_log_probs_s"], " s"),
    "rl_cpu.taught.step_s": lambda raw: span(_run(raw, 1)["s_per_step"], " s"),
    "rl_cpu.taught.generation_s": lambda raw: span(_run(raw, 1)["generation_s"], " s"),
    "rl_cpu.taught.old_log_probs_s": lambda raw: span(_run(raw, 1)["old_log_probs_s"], " s"),
    "rl_cpu.taught.update_s": lambda raw: span(_run(raw, 1)["update_s"], " s"),
    "rl_cpu.taught.load": lambda raw: _run(raw, 1)["load"],
    "rl_cpu.taught.probs_diff": lambda raw: fmt.sci(_run(raw, 1)["rollout_probs_diff_max"]),
}
TABLES = {"rl_cpu.table": table}
