"""Best-checkpoint selection (rule in configs/eval.yaml `selection`, explained in docs/evaluation.md).

1. Candidates: history rows that scored the selection dataset (codecontests_valid) under the
   same per-dataset fingerprint as the reference (by default the most recent such row): scores
   made under another config or another manifest are never compared. One row per step (the
   highest tier, then the latest).
2. Highest `primary` (exec_success_rate). Every candidate within `tie_margin` of that maximum
   is a tie; among ties the highest `tiebreak` (accepted_at_1) wins, then the higher primary,
   then the earlier step (less drift from the base model for the same score).
3. Regression check: the winner's `regression_dataset` (humaneval) accepted@1 against the
   Phase 0 baseline scored under the same per-dataset fingerprint; a drop of more than
   `regression_threshold_pp` points is flagged (never silently dropped: missing data is said).
"""

from __future__ import annotations

from typing import Any

RULE_KEYS = ("dataset", "primary", "tiebreak", "tie_margin", "regression_dataset", "regression_threshold_pp")


def score_fingerprint(row: dict[str, Any], dataset: str) -> str | None:
    """The fingerprint a dataset's score was made under (per-dataset; the row's as a fallback)."""
    s = (row.get("scores") or {}).get(dataset)
    if not isinstance(s, dict):
        return None
    return s.get("fingerprint") or row.get("eval_fingerprint")


def _value(row: dict[str, Any], dataset: str, metric: str) -> float | None:
    v = ((row.get("scores") or {}).get(dataset) or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) else None


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def select_best(rows: list[dict[str, Any]], sel: dict[str, Any], baseline_rows: list[dict[str, Any]] | None = None,
                reference_fingerprint: str | None = None) -> dict[str, Any]:
    """Pick the best row; return best_checkpoint.json's content (the choice, the rule, the why)."""
    ds, primary, tiebreak = sel["dataset"], sel["primary"], sel["tiebreak"]
    margin = float(sel["tie_margin"])
    rule = {k: sel.get(k) for k in RULE_KEYS}
    excluded: list[dict[str, Any]] = []
    scored = []
    for r in rows:
        if _value(r, ds, primary) is None:
            excluded.append({"step": r.get("step"), "tier": r.get("tier"), "reason": f"no {ds} {primary} in this evaluation"})
        else:
            scored.append(r)
    if reference_fingerprint is None and scored:
        reference_fingerprint = score_fingerprint(max(scored, key=lambda r: str(r.get("timestamp", ""))), ds)
    same = []
    for r in scored:
        fp = score_fingerprint(r, ds)
        if fp == reference_fingerprint:
            same.append(r)
        else:
            excluded.append({"step": r.get("step"), "tier": r.get("tier"),
                             "reason": f"{ds} scored under fingerprint {fp}, not {reference_fingerprint}: not comparable"})
    by_step: dict[int, dict[str, Any]] = {}
    for r in same:  # one row per step: the most complete (highest tier), then the latest
        k = int(r["step"])
        if k not in by_step or (int(r["tier"]), str(r.get("timestamp", ""))) > (int(by_step[k]["tier"]), str(by_step[k].get("timestamp", ""))):
            by_step[k] = r
    cands = sorted(by_step.values(), key=lambda r: int(r["step"]))
    result: dict[str, Any] = {"rule": rule, "reference_fingerprint": reference_fingerprint, "excluded": excluded,
                              "candidates": [{"step": int(r["step"]), "tier": int(r["tier"]),
                                              primary: _value(r, ds, primary), tiebreak: _value(r, ds, tiebreak)}
                                             for r in cands]}
    if not cands:
        result.update(step=None, checkpoint=None, explanation=(
            f"no evaluation has {ds} {primary} under one fingerprint yet; evaluate a checkpoint at tier 1 or higher"),
            regression_check={"status": "not_checked", "reason": "no checkpoint selected"})
        return result
    top = max(_value(r, ds, primary) for r in cands)
    ties = [r for r in cands if _value(r, ds, primary) >= top - margin - 1e-12]
    best = sorted(ties, key=lambda r: (-(_value(r, ds, tiebreak) or -1.0), -_value(r, ds, primary), int(r["step"])))[0]
    bp, bt = _value(best, ds, primary), _value(best, ds, tiebreak)
    if len(ties) == 1:
        why = f"step {best['step']} has the highest {ds} {primary} ({_pct(bp)}) of {len(cands)} comparable checkpoint(s)"
    else:
        steps = ", ".join(str(r["step"]) for r in ties)
        why = (f"steps {steps} are within {100 * margin:.1f} pp of the highest {ds} {primary} ({_pct(top)}); "
               f"step {best['step']} has the highest {ds} {tiebreak} among them ({_pct(bt)})")
    result.update(step=int(best["step"]), checkpoint=best.get("checkpoint"), tier=int(best["tier"]),
                  eval_fingerprint=best.get("eval_fingerprint"),
                  numbers={d: {k: v for k, v in s.items() if k in ("accepted_at_1", "exec_success_rate", "n")}
                           for d, s in (best.get("scores") or {}).items() if isinstance(s, dict)},
                  regression_check=regression_check(best, baseline_rows or [], sel))
    rc = result["regression_check"]
    if rc["status"] == "regression":
        why += f"; WARNING: {rc['reason']}"
    elif rc["status"] == "not_checked":
        why += f"; regression check not done: {rc['reason']}"
    result["explanation"] = why
    return result


def regression_check(best: dict[str, Any], baseline_rows: list[dict[str, Any]], sel: dict[str, Any]) -> dict[str, Any]:
    ds, thr = sel["regression_dataset"], float(sel["regression_threshold_pp"])
    out: dict[str, Any] = {"dataset": ds, "metric": "accepted_at_1", "threshold_pp": thr}
    mine = _value(best, ds, "accepted_at_1")
    if mine is None:
        return {**out, "status": "not_checked",
                "reason": f"step {best['step']} was not evaluated on {ds} (tier {best['tier']}); evaluate it at tier 3"}
    fp = score_fingerprint(best, ds)
    base = [r for r in baseline_rows if _value(r, ds, "accepted_at_1") is not None]
    if not base:
        return {**out, "status": "not_checked", "value": mine,
                "reason": f"no Phase 0 baseline with {ds} (run: make eval-baseline)"}
    comparable = [r for r in base if score_fingerprint(r, ds) == fp]
    if not comparable:
        return {**out, "status": "not_checked", "value": mine,
                "reason": f"the Phase 0 {ds} score was made under another fingerprint; re-run make eval-baseline"}
    ref = max(comparable, key=lambda r: str(r.get("timestamp", "")))
    bv = _value(ref, ds, "accepted_at_1")
    drop_pp = 100 * (bv - mine)
    out.update(value=mine, baseline=bv, baseline_step=ref.get("step"), drop_pp=round(drop_pp, 3))
    if drop_pp > thr:
        return {**out, "status": "regression",
                "reason": f"{ds} accepted@1 fell {drop_pp:.1f} pp vs Phase 0 ({_pct(bv)} -> {_pct(mine)}), more than {thr} pp"}
    return {**out, "status": "ok", "reason": f"{ds} accepted@1 {_pct(mine)} vs Phase 0 {_pct(bv)} (change {-drop_pp:+.1f} pp)"}
