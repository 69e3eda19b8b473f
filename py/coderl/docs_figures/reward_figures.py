"""Figures of `make bench-reward` (coderl.reward.bench's JSON, docs/results/bench_reward_*.json).

A raw file holds `batch` (one row per scorer: wall_s, cpu_s, solutions, solutions_per_s[_per_core],
latency_p50_s/p99_s, accepted, agree_with_judge, and on the bare runner's row the answers' own CPU
time and the floor), `summary` (ratios the bench computed) and optionally `agreement`. Machine,
date and command line sit at the top level (older files) or in `record` (bench_record): `meta` reads
either. The run labels (problems x answers) are the runs' set-up, not measurements.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from . import fmt
from .raw import Raw

D = "results/"
DEFAULT = D + "bench_reward_2026-12-01.json"
WIDE = D + "bench_reward_2026-12-01_8x16.json"
NO_TIMEOUT = D + "bench_reward_2026-12-01_16x16_coderl.json"
# (raw file, what the run was): the table's runs, in the order the doc discusses them
RUNS = (
    (DEFAULT, "4 x 16 (default)"),
    (WIDE, "8 x 16"),
    (NO_TIMEOUT, "16 x 16, no time-out, coderl only"),
)
# the idle-machine run (the lent 16-core GPU host), after the sandbox's per-execution cost was cut: its own table
IDLE = D + "2026-12-01_bench_reward_64x16_16workers.json"
IDLE_RUNS = ((IDLE, "64 x 16, 16-core host"),)
# table label of each scorer, by the first word of the bench's `scorer` (the judge is the reference, not shown)
SCORERS = {"coderl.reward": "**coderl.reward**", "verl": "verl prime_code", "bare": "bare runner"}


def meta(raw: Raw, rel: str, key: str) -> Any:
    """A provenance field (date, command, machine) of a bench file, before or after bench_record."""
    data = raw.file(rel)
    return raw.key(rel, "record", key) if "record" in data else raw.key(rel, key)


def scorer(raw: Raw, rel: str, who: str) -> dict[str, Any] | None:
    """The batch row of scorer `who` (a key of SCORERS), or None when the run did not score with it."""
    rows = [r for r in raw.key(rel, "batch") if r["scorer"].split(" ")[0] == who]
    return rows[0] if rows else None


def _row(raw: Raw, rel: str, who: str) -> dict[str, Any]:
    r = scorer(raw, rel, who)
    if r is None:
        raise ConfigError(f"docs/{rel} has no batch row for scorer {who!r}; fix the figure or the raw file")
    return r


def _loads(raw: Raw, rel: str) -> tuple[float, float]:
    """Lowest and highest 1-minute load average the bench saw (at its start and its end)."""
    one = [raw.key(rel, "loadavg_at_start")[0], raw.key(rel, "loadavg_at_end")[0]]
    return min(one), max(one)


def _g(x: float) -> str:
    """Seconds as read in the table: three significant digits, trailing zeros kept (5.00, 29.0, 201)."""
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _cells(r: dict[str, Any], strong: bool) -> list[str]:
    b = lambda s: fmt.bold(s, strong)  # noqa: E731
    return [
        str(r["solutions"]),
        b(_g(r["wall_s"])),
        b(fmt.fixed(r["cpu_s"])) if "cpu_s" in r else "—",
        b(f"{r['solutions_per_s']:.2f} ({r['solutions_per_s_per_core']:.2f})"),
        f"{_g(r['latency_p50_s'])} / {_g(r['latency_p99_s'])}",
        str(r["accepted"]),
        f"{r['agree_with_judge']}/{r['solutions']}" if "agree_with_judge" in r else "—",
    ]


def table(raw: Raw, runs=RUNS) -> str:
    rows = []
    for rel, what in runs:
        lo, hi = _loads(raw, rel)
        label = f"{meta(raw, rel, 'date')[11:16]}, {what}, load {lo:.0f}-{hi:.0f}"
        for who, name in SCORERS.items():
            r = scorer(raw, rel, who)
            if r is None:
                continue
            if who == "bare" and "runs" in r:
                name += f" ({r['runs']} runs)"
            rows.append([label, name, *_cells(r, who == "coderl.reward")])
            label = ""
        bare = _row(raw, rel, "bare")
        floor = f"floor (answers' CPU {_g(bare['answers_cpu_s'])} s"
        if "answers_cpu_without_starts_s" in bare:
            floor += (
                f"; {bare['answers_cpu_without_starts_s']:.2f} s without the {bare['runs']} interpreter starts of "
                f"{1000 * bare['interpreter_start_cpu_s']:.1f} ms"
            )
        if "answers_program_cpu_s" in bare:
            floor += f"; the answers' own compute {bare['answers_program_cpu_s']:.1f} s"
        rows.append(["", floor + ")", "", _g(raw.key(rel, "summary", "floor_s")), "", "", "", "", ""])
    header = [
        f"run ({meta(raw, DEFAULT, 'date')[:10]}, UTC; load = 1-min average at start and end)",
        "scorer",
        "solutions",
        "wall s",
        "CPU s",
        "solutions/s (per core)",
        "p50 / p99 latency s",
        "accepted",
        "agrees with judge",
    ]
    return fmt.table(header, rows) + "\n\nRaw: " + ", ".join(f"docs/{rel}" for rel, _ in runs) + "."


def _wall_ratio(raw: Raw, rel: str, slow: str, fast: str) -> float:
    return _row(raw, rel, slow)["wall_s"] / _row(raw, rel, fast)["wall_s"]


def _per_core_vs_sandboxfusion(raw: Raw) -> str:
    """Our per-core rate over SandboxFusion's published per-core range: lowest-highest ratio."""
    ours = [_row(raw, rel, "coderl.reward")["solutions_per_s_per_core"] for rel, _ in RUNS]
    sf = raw.key(DEFAULT, "summary", "sandboxfusion_per_core")
    return f"{min(ours) / max(sf):.0f}-{max(ours) / min(sf):.0f}x"


def _with_timeout_per_core(raw: Raw) -> str:
    v = [_row(raw, rel, "coderl.reward")["solutions_per_s_per_core"] for rel in (DEFAULT, WIDE)]
    return f"{min(v):.1f}-{max(v):.1f}"


def _sandbox_cpu_ms(raw: Raw) -> str:
    """(reward's CPU - the answers' own CPU without interpreter starts) per execution, 16 x 16 run."""
    ours, bare = _row(raw, NO_TIMEOUT, "coderl.reward"), _row(raw, NO_TIMEOUT, "bare")
    return f"{1000 * (ours['cpu_s'] - bare['answers_cpu_without_starts_s']) / bare['runs']:.1f} ms"


def _load_range(raw: Raw) -> str:
    v = [x for rel, _ in RUNS for x in _loads(raw, rel)]
    return f"{min(v):.0f}-{max(v):.0f}"


def _bare_over_reward(raw: Raw) -> str:
    v = [_wall_ratio(raw, rel, "bare", "coderl.reward") for rel, _ in RUNS]
    return f"{min(v):.1f}-{max(v):.1f}x"


def _prime_disagrees(raw: Raw, rel: str) -> str:
    r = _row(raw, rel, "verl")
    return f"{r['solutions'] - r['agree_with_judge']}/{r['solutions']}"


def _sf_range(raw: Raw, key: str, digits: int) -> str:
    lo, hi = raw.key(DEFAULT, *key.split("."))
    return f"{lo:.{digits}f}-{hi:.{digits}f}"


S = ("summary",)
INLINE = {
    "reward.load_range": _load_range,
    "reward.default.prime_speed": lambda raw: f"{raw.key(DEFAULT, *S, 'coderl_vs_prime_code_speed'):.0f}x",
    "reward.wide.prime_speed": lambda raw: f"{raw.key(WIDE, *S, 'coderl_vs_prime_code_speed'):.0f}x",
    "reward.default.prime_cpu": lambda raw: f"{raw.key(DEFAULT, *S, 'coderl_vs_prime_code_cpu'):.0f}x",
    "reward.nt.cpu_s": lambda raw: fmt.fixed(_row(raw, NO_TIMEOUT, "coderl.reward")["cpu_s"]),
    "reward.nt.solutions": lambda raw: str(_row(raw, NO_TIMEOUT, "coderl.reward")["solutions"]),
    "reward.nt.vs_answers_cpu": lambda raw: fmt.times(raw.key(NO_TIMEOUT, *S, "coderl_cpu_vs_answers_cpu")),
    "reward.nt.answers_cpu_s": lambda raw: f"{_row(raw, NO_TIMEOUT, 'bare')['answers_cpu_s']:.1f} s",
    "reward.nt.vs_own_compute": lambda raw: fmt.times(
        raw.key(NO_TIMEOUT, *S, "coderl_cpu_vs_answers_cpu_without_starts"), 1
    ),
    "reward.nt.own_compute": lambda raw: (
        f"{_row(raw, NO_TIMEOUT, 'bare')['answers_cpu_without_starts_s']:.2f} s = "
        f"{_row(raw, NO_TIMEOUT, 'bare')['answers_cpu_s']:.1f} s - {_row(raw, NO_TIMEOUT, 'bare')['runs']} x "
        f"{1000 * _row(raw, NO_TIMEOUT, 'bare')['interpreter_start_cpu_s']:.1f} ms"
    ),
    "reward.nt.sandbox_cpu_ms": _sandbox_cpu_ms,
    "reward.vs_floor": lambda raw: ", ".join(
        fmt.times(raw.key(rel, *S, "coderl_vs_floor"), 1) + (" (default)" if rel == DEFAULT else "") for rel, _ in RUNS
    ),
    "reward.bare_over_reward": _bare_over_reward,
    "reward.sandboxfusion_published": lambda raw: _sf_range(raw, "sandboxfusion_published_solutions_per_s_64_cores", 1),
    "reward.sandboxfusion_per_core": lambda raw: _sf_range(raw, "summary.sandboxfusion_per_core", 2),
    "reward.per_core_with_timeout": _with_timeout_per_core,
    "reward.per_core_without_timeout": lambda raw: fmt.fixed(
        _row(raw, NO_TIMEOUT, "coderl.reward")["solutions_per_s_per_core"], 1
    ),
    "reward.per_core_vs_sandboxfusion": _per_core_vs_sandboxfusion,
    "reward.agreement": lambda raw: (
        f"reward 1 on {raw.key(DEFAULT, 'agreement', 'reward_accepted')}, the judge accepts the same "
        f"{raw.key(DEFAULT, 'agreement', 'judge_accepted')}, "
        + (
            "no disagreement"
            if not raw.key(DEFAULT, "agreement", "disagree")
            else f"{len(raw.key(DEFAULT, 'agreement', 'disagree'))} disagreements"
        )
        + f" ({raw.key(DEFAULT, 'agreement', 'reward_wall_s'):.1f} s for the reward)"
    ),
    "reward.agreement.problems": lambda raw: str(raw.key(DEFAULT, "agreement", "problems")),
    "reward.default.prime_disagrees": lambda raw: _prime_disagrees(raw, DEFAULT),
    "reward.wide.prime_disagrees": lambda raw: _prime_disagrees(raw, WIDE),
}


def _idle_vs_sandboxfusion(raw: Raw) -> str:
    ours = _row(raw, IDLE, "coderl.reward")["solutions_per_s_per_core"]
    lo, hi = raw.key(IDLE, "summary", "sandboxfusion_per_core")
    return f"{ours / hi:.0f}-{ours / lo:.0f}x"


INLINE.update(
    {
        "reward.idle.cpu_s": lambda raw: fmt.fixed(_row(raw, IDLE, "coderl.reward")["cpu_s"], 1),
        "reward.idle.solutions": lambda raw: str(_row(raw, IDLE, "coderl.reward")["solutions"]),
        "reward.idle.program_cpu_s": lambda raw: f"{_row(raw, IDLE, 'bare')['answers_program_cpu_s']:.1f} s",
        "reward.idle.vs_program": lambda raw: fmt.times(raw.key(IDLE, *S, "coderl_cpu_vs_answers_program_cpu")),
        "reward.idle.vs_bare_cpu": lambda raw: fmt.times(raw.key(IDLE, *S, "coderl_cpu_vs_answers_cpu")),
        "reward.idle.vs_floor": lambda raw: fmt.times(raw.key(IDLE, *S, "coderl_vs_floor")),
        "reward.idle.prime_speed": lambda raw: f"{raw.key(IDLE, *S, 'coderl_vs_prime_code_speed'):.0f}x",
        "reward.idle.prime_cpu": lambda raw: f"{raw.key(IDLE, *S, 'coderl_vs_prime_code_cpu'):.0f}x",
        "reward.idle.per_core": lambda raw: fmt.fixed(_row(raw, IDLE, "coderl.reward")["solutions_per_s_per_core"], 1),
        "reward.idle.prime_per_core": lambda raw: fmt.fixed(_row(raw, IDLE, "verl")["solutions_per_s_per_core"], 2),
        "reward.idle.vs_sandboxfusion": _idle_vs_sandboxfusion,
        "reward.idle.prime_disagrees": lambda raw: _prime_disagrees(raw, IDLE),
        "reward.idle.p50_p99": lambda raw: (
            f"{_row(raw, IDLE, 'coderl.reward')['latency_p50_s']:.2f} / {_row(raw, IDLE, 'coderl.reward')['latency_p99_s']:.2f} s"
        ),
    }
)
TABLES = {"reward.table": table, "reward.idle_table": lambda raw: table(raw, IDLE_RUNS)}
