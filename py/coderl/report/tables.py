"""The report's tables and text: every evaluated checkpoint, Phase 0 vs best, warnings.

Pure functions from history rows to (headers, rows) and to markdown / terminal text, so the same
numbers print in the terminal and land in report.md.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ..evaluation.history import HISTORY_NAME, read_history
from ..evaluation.selection import is_full, score_fingerprint, select_best

# The runbook's expectations for Phase 1 vs Phase 0 (gain: points of improvement expected;
# no_regression: the drop must stay within selection.regression_threshold_pp).
TARGETS: dict[str, dict[str, Any]] = {
    "codecontests_valid": {"kind": "gain", "min_pp": 10.0, "max_pp": 20.0},
    "mbpp_reg": {"kind": "no_regression"},
    "humaneval": {"kind": "no_regression"},
}
METRICS = (("accepted_at_1", "acc@1"), ("exec_success_rate", "exec"))
DATASET_ORDER = ("codecontests_valid", "mbpp_reg", "codecontests_valid_big", "codecontests_test", "humaneval")
Table = tuple[list[str], list[list[str]]]


def load_histories(outputs_root: str | Path) -> dict[str, list[dict[str, Any]]]:
    """phase name -> history rows, for every <outputs_root>/<phase>/eval_history.jsonl."""
    root = Path(outputs_root)
    if not root.is_dir():
        return {}
    return {p.parent.name: read_history(p) for p in sorted(root.glob(f"*/{HISTORY_NAME}"))}


def full_only(phases: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Full evaluations only: --limit quick checks are shown apart (quick_check_table), never compared."""
    return {ph: [r for r in rows if is_full(r)] for ph, rows in phases.items()}


def quick_check_table(phases: dict[str, list[dict[str, Any]]]) -> Table | None:
    """The --limit runs (first K problems per dataset), or None when there are none."""
    quick = {ph: [r for r in rows if not is_full(r)] for ph, rows in phases.items()}
    if not any(quick.values()):
        return None
    headers, rows_ = checkpoint_table({ph: rs for ph, rs in quick.items() if rs}, {})
    limits = [
        str(r["limit"]) for ph, rs in quick.items() for r in sorted(rs, key=lambda r: (int(r["step"]), int(r["tier"])))
    ]
    return headers[:3] + ["limit"] + headers[3:], [row[:3] + [k] + row[3:] for row, k in zip(rows_, limits)]


def datasets_of(rows: list[dict[str, Any]]) -> list[str]:
    seen = {d for r in rows for d in (r.get("scores") or {})}
    return [d for d in DATASET_ORDER if d in seen] + sorted(seen - set(DATASET_ORDER))


def pct(x: Any) -> str:
    return f"{100 * x:.1f}" if isinstance(x, (int, float)) else "—"


def _val(row: dict[str, Any] | None, ds: str, metric: str) -> float | None:
    if row is None:
        return None
    v = ((row.get("scores") or {}).get(ds) or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) else None


def checkpoint_table(phases: dict[str, list[dict[str, Any]]], best_steps: dict[str, int | None]) -> Table:
    all_rows = [r for rows in phases.values() for r in rows]
    dss = datasets_of(all_rows)
    headers = ["phase", "step", "tier", "fingerprint"] + [f"{d} {short}" for d in dss for _, short in METRICS]
    out = []
    for phase, rows in phases.items():
        for r in sorted(rows, key=lambda r: (int(r["step"]), int(r["tier"]))):
            mark = " *" if best_steps.get(phase) == int(r["step"]) else ""
            out.append(
                [phase, f"{r['step']}{mark}", str(r["tier"]), str(r.get("eval_fingerprint", ""))[:8]]
                + [pct(_val(r, d, m)) for d in dss for m, _ in METRICS]
            )
    return headers, out


def baseline_row(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Phase 0 evaluation to compare against: a full one, the most complete (highest tier), then the latest."""
    rows = [r for r in rows if is_full(r)]
    if not rows:
        return None
    return max(rows, key=lambda r: (int(r["tier"]), str(r.get("timestamp", ""))))


def _target_status(ds: str, delta_pp: float | None, threshold_pp: float) -> tuple[str, str]:
    t = TARGETS.get(ds)
    if t is None:
        return "—", "—"
    if t["kind"] == "gain":
        text = f"+{t['min_pp']:g} to +{t['max_pp']:g} pp"
        if delta_pp is None:
            return text, "n/a"
        return text, "met" if delta_pp >= t["min_pp"] else "below target"
    text = f"no regression (>= -{threshold_pp:g} pp)"
    if delta_pp is None:
        return text, "n/a"
    return text, "met" if delta_pp >= -threshold_pp else "REGRESSION"


def comparison_table(base: dict[str, Any] | None, best: dict[str, Any] | None, threshold_pp: float) -> Table:
    """Phase 0 vs the best checkpoint, per dataset and metric, with deltas in points and the targets."""
    headers = ["dataset", "metric", "phase 0", "best", "delta (pp)", "target", "status"]
    rows_ = [r for r in (base, best) if r is not None]
    out = []
    for ds in datasets_of(rows_):
        comparable = (
            base is not None
            and best is not None
            and ds in (base.get("scores") or {})
            and ds in (best.get("scores") or {})
            and score_fingerprint(base, ds) == score_fingerprint(best, ds)
        )
        for metric, short in METRICS:
            b, s = _val(base, ds, metric), _val(best, ds, metric)
            delta = 100 * (s - b) if comparable and b is not None and s is not None else None
            target, status = _target_status(ds, delta, threshold_pp)
            if b is not None and s is not None and not comparable:
                status = "not comparable (fingerprint differs)"
            out.append([ds, short, pct(b), pct(s), "—" if delta is None else f"{delta:+.1f}", target, status])
    return headers, out


def fingerprint_warnings(phases: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One warning per dataset scored under more than one fingerprint (those rows are not comparable)."""
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for phase, rows in phases.items():
        for r in rows:
            for ds in r.get("scores") or {}:
                groups[ds][str(score_fingerprint(r, ds))].append(f"{phase}/step {r['step']} (tier {r['tier']})")
    warnings = []
    for ds, by_fp in groups.items():
        if len(by_fp) > 1:
            parts = "; ".join(f"{fp[:8]}: {', '.join(where)}" for fp, where in by_fp.items())
            warnings.append(
                f"{ds} was scored under {len(by_fp)} different eval fingerprints; rows in different "
                f"groups are not comparable ({parts})"
            )
    return warnings


def best_per_phase(
    phases: dict[str, list[dict[str, Any]]],
    baseline_phase: str,
    sel: dict[str, Any],
    config_fingerprint: str | None = None,
) -> dict[str, dict[str, Any]]:
    """select_best per trained phase; config_fingerprint: the current eval config's (cfg.fingerprint())."""
    base = phases.get(baseline_phase, [])
    return {ph: select_best(rows, sel, base, config_fingerprint) for ph, rows in phases.items() if ph != baseline_phase}


def md_table(table: Table) -> str:
    headers, rows = table
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def text_table(table: Table) -> str:
    headers, rows = table
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    fmt = lambda r: "  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])
