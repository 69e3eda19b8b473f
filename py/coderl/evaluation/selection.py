"""Best-checkpoint selection (rule in configs/eval.yaml `selection`, explained in docs/evaluation.md).

1. Candidates: full evaluations (never a --limit quick check) made under the CURRENT eval config
   (the row's config_fingerprint) that scored the selection dataset (codecontests_valid); among
   them, one per-dataset fingerprint (manifest and runtime too) is compared: the one holding the
   most steps. Scores made under another config, manifest, sandbox, Python, engine or dtype are
   never compared; each excluded row says why. One row per step (the highest tier, then the latest).
2. Highest `primary` (exec_success_rate). Every candidate within `tie_margin` of that maximum
   is a tie; among ties the highest `tiebreak` (accepted_at_1) wins, then the higher primary,
   then the earlier step (less drift from the base model for the same score).
3. Regression check: the winner's `regression_dataset` (humaneval) accepted@1 against the
   latest full Phase 0 evaluation scored under the same per-dataset fingerprint; a drop of more than
   `regression_threshold_pp` points is flagged (never silently dropped: missing data is said).

write_best_checkpoint applies the rule to a phase's eval_history.jsonl and writes best_checkpoint.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..io_utils import atomic_write_json
from . import history as H

if TYPE_CHECKING:
    from ..config import EvalConfig

BASELINE_PHASE = "phase0"  # the base model's evaluations, the regression check's reference
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


def is_full(row: dict[str, Any]) -> bool:
    """A full evaluation (every problem), not a --limit quick check."""
    return not row.get("limit")


def _runtime_text(row: dict[str, Any]) -> str:
    rt = row.get("runtime") or {}
    return ", ".join(f"{k} {v}" for k, v in sorted(rt.items())) or "runtime not recorded"


def select_best(
    rows: list[dict[str, Any]],
    sel: dict[str, Any],
    baseline_rows: list[dict[str, Any]] | None = None,
    config_fingerprint: str | None = None,
) -> dict[str, Any]:
    """Pick the best row; return best_checkpoint.json's content (the choice, the rule, the why).

    config_fingerprint: the CURRENT eval config's (cfg.fingerprint()); rows made under another are
    excluded and, when no row is left, the explanation says how to re-evaluate. Among the rest, the
    selection dataset's score fingerprints (manifest and runtime too) must agree: the group holding
    the most steps is compared (then the latest), the others are listed as not comparable.
    """
    ds, primary, tiebreak = sel["dataset"], sel["primary"], sel["tiebreak"]
    margin = float(sel["tie_margin"])
    rule = {k: sel.get(k) for k in RULE_KEYS}
    excluded: list[dict[str, Any]] = []

    def exclude(r: dict[str, Any], reason: str) -> None:
        excluded.append({"step": r.get("step"), "tier": r.get("tier"), "limit": r.get("limit"), "reason": reason})

    scored, older = [], []
    for r in rows:
        if not is_full(r):
            exclude(r, f"a --limit {r['limit']} quick check (first {r['limit']} problems per dataset): never selected")
        elif _value(r, ds, primary) is None:
            exclude(r, f"no {ds} {primary} in this evaluation")
        elif config_fingerprint is not None and r.get("config_fingerprint") != config_fingerprint:
            older.append(r)
            exclude(
                r,
                f"made under eval config fingerprint {r.get('config_fingerprint') or '(not recorded)'}, "
                f"not the current config's {config_fingerprint}: re-evaluate it",
            )
        else:
            scored.append(r)
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for r in scored:
        groups.setdefault(score_fingerprint(r, ds), []).append(r)
    reference_fingerprint = None
    if groups:  # the most steps, then the latest: one stray run under another runtime cannot hijack it
        reference_fingerprint = max(
            groups,
            key=lambda fp: (
                len({int(r["step"]) for r in groups[fp]}),
                max(str(r.get("timestamp", "")) for r in groups[fp]),
            ),
        )
    same = groups.get(reference_fingerprint, [])
    ref_runtime = _runtime_text(same[0]) if same else ""
    for fp, rs in groups.items():
        if fp != reference_fingerprint:
            for r in rs:
                exclude(
                    r,
                    f"{ds} scored under fingerprint {fp}, not {reference_fingerprint}: not comparable "
                    f"(its runtime: {_runtime_text(r)}; compared ones: {ref_runtime})",
                )
    by_step: dict[int, dict[str, Any]] = {}
    for r in same:  # one row per step: the most complete (highest tier), then the latest
        k = int(r["step"])
        if k not in by_step or (int(r["tier"]), str(r.get("timestamp", ""))) > (
            int(by_step[k]["tier"]),
            str(by_step[k].get("timestamp", "")),
        ):
            by_step[k] = r
    cands = sorted(by_step.values(), key=lambda r: int(r["step"]))
    result: dict[str, Any] = {
        "rule": rule,
        "config_fingerprint": config_fingerprint,
        "reference_fingerprint": reference_fingerprint,
        "excluded": excluded,
        "candidates": [
            {
                "step": int(r["step"]),
                "tier": int(r["tier"]),
                primary: _value(r, ds, primary),
                tiebreak: _value(r, ds, tiebreak),
            }
            for r in cands
        ],
    }
    if not cands:
        if older:
            steps = ", ".join(str(s) for s in sorted({int(r["step"]) for r in older}))
            why = (
                f"every full evaluation with {ds} {primary} (steps {steps}) was made under an older eval config "
                f"fingerprint than the current config's ({config_fingerprint}): re-evaluate under the current "
                "config (make eval-all CKPT_ROOT=<run dir> re-runs what the history lacks under it, or "
                "coderl eval --checkpoint <global_step_N> --tier 1 per step)"
            )
        else:
            why = f"no full evaluation has {ds} {primary} yet; evaluate a checkpoint at tier 1 or higher (without --limit)"
        result.update(
            step=None,
            checkpoint=None,
            explanation=why,
            regression_check={"status": "not_checked", "reason": "no checkpoint selected"},
        )
        return result
    top = max(_value(r, ds, primary) for r in cands)
    ties = [r for r in cands if _value(r, ds, primary) >= top - margin - 1e-12]
    best = sorted(ties, key=lambda r: (-(_value(r, ds, tiebreak) or -1.0), -_value(r, ds, primary), int(r["step"])))[0]
    bp, bt = _value(best, ds, primary), _value(best, ds, tiebreak)
    if len(ties) == 1:
        why = (
            f"step {best['step']} has the highest {ds} {primary} ({_pct(bp)}) of {len(cands)} comparable checkpoint(s)"
        )
    else:
        steps = ", ".join(str(r["step"]) for r in ties)
        why = (
            f"steps {steps} are within {100 * margin:.1f} pp of the highest {ds} {primary} ({_pct(top)}); "
            f"step {best['step']} has the highest {ds} {tiebreak} among them ({_pct(bt)})"
        )
    result.update(
        step=int(best["step"]),
        checkpoint=best.get("checkpoint"),
        tier=int(best["tier"]),
        eval_fingerprint=best.get("eval_fingerprint"),
        numbers={
            d: {k: v for k, v in s.items() if k in ("accepted_at_1", "exec_success_rate", "n")}
            for d, s in (best.get("scores") or {}).items()
            if isinstance(s, dict)
        },
        regression_check=regression_check(best, baseline_rows or [], sel),
    )
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
        return {
            **out,
            "status": "not_checked",
            "reason": f"step {best['step']} was not evaluated on {ds} (tier {best['tier']}); evaluate it at tier 3",
        }
    fp = score_fingerprint(best, ds)
    base = [r for r in baseline_rows if is_full(r) and _value(r, ds, "accepted_at_1") is not None]
    if not base:
        return {
            **out,
            "status": "not_checked",
            "value": mine,
            "reason": f"no Phase 0 baseline with {ds} (run: make eval-baseline)",
        }
    comparable = [r for r in base if score_fingerprint(r, ds) == fp]
    if not comparable:
        return {
            **out,
            "status": "not_checked",
            "value": mine,
            "reason": f"the Phase 0 {ds} score was made under another fingerprint; re-run make eval-baseline",
        }
    ref = max(comparable, key=lambda r: str(r.get("timestamp", "")))  # the latest comparable full Phase 0 row
    bv = _value(ref, ds, "accepted_at_1")
    drop_pp = 100 * (bv - mine)
    out.update(value=mine, baseline=bv, baseline_step=ref.get("step"), drop_pp=round(drop_pp, 3))
    if drop_pp > thr:
        return {
            **out,
            "status": "regression",
            "reason": f"{ds} accepted@1 fell {drop_pp:.1f} pp vs Phase 0 ({_pct(bv)} -> {_pct(mine)}), more than {thr} pp",
        }
    return {
        **out,
        "status": "ok",
        "reason": f"{ds} accepted@1 {_pct(mine)} vs Phase 0 {_pct(bv)} (change {-drop_pp:+.1f} pp)",
    }


def write_best_checkpoint(
    out_root: str | Path, phase: str, cfg: EvalConfig, baseline_phase: str = BASELINE_PHASE
) -> dict[str, Any]:
    """Select from the phase's history (against the baseline phase's) and write <out_root>/<phase>/best_checkpoint.json."""
    rows = H.read_history(H.history_path(out_root, phase))
    base = H.read_history(H.history_path(out_root, baseline_phase)) if phase != baseline_phase else rows
    best = select_best(rows, cfg.selection, base, config_fingerprint=cfg.fingerprint())
    best["phase"] = phase
    best["written_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    atomic_write_json(Path(out_root) / phase / "best_checkpoint.json", best)
    return best
