"""Assemble the report: tables + best checkpoint + warnings + plots -> report.md and terminal text."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..io_utils import atomic_write_text
from . import tables as T
from .plots import plot_metrics_per_step, plot_training_curves
from .training_log import parse_training_log

log = logging.getLogger(__name__)


@dataclass
class Report:
    markdown: str
    text: str
    path: Path
    plots: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def build_report(
    outputs_root: str | Path,
    out_dir: str | Path,
    sel: dict[str, Any],
    *,
    phases: list[str] | None = None,
    baseline_phase: str = "phase0",
    train_log: str | Path | None = None,
    title: str = "coderl evaluation report",
    config_fingerprint: str | None = None,
) -> Report:
    """config_fingerprint: the current eval config's; the best checkpoint is chosen among full
    evaluations made under it. --limit quick checks get their own table and nothing else."""
    outputs_root, out_dir = Path(outputs_root), Path(out_dir)
    hist = T.load_histories(outputs_root)
    if phases:
        hist = {ph: rows for ph, rows in hist.items() if ph in phases or ph == baseline_phase}
    missing: list[str] = []
    if not hist:
        missing.append(
            f"no evaluation history under {outputs_root}/<phase>/eval_history.jsonl (run make eval-all / make eval)"
        )
    if baseline_phase not in hist:
        missing.append(
            f"no Phase 0 baseline ({outputs_root}/{baseline_phase}/eval_history.jsonl): run make eval-baseline"
        )
    trained = [ph for ph in hist if ph != baseline_phase]
    if hist and not trained:
        missing.append("no trained checkpoint evaluated yet (only the baseline): run make eval-all")
    bests = T.best_per_phase(hist, baseline_phase, sel, config_fingerprint)
    best_steps = {ph: b.get("step") for ph, b in bests.items()}
    quick = T.quick_check_table(hist)
    hist = T.full_only(hist)  # from here on: full evaluations only
    warnings = T.fingerprint_warnings(hist)
    threshold = float(sel["regression_threshold_pp"])

    md = [
        f"# {title}",
        "",
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} from `{outputs_root}`. "
        "Numbers are percentages; `*` marks each phase's best checkpoint.",
        "",
    ]
    txt = [title, "=" * len(title), ""]
    if warnings:
        md += ["## Warnings", ""] + [f"- ⚠ {w}" for w in warnings] + [""]
        txt += ["WARNINGS:"] + [f"  ! {w}" for w in warnings] + [""]
    if hist:
        table = T.checkpoint_table(hist, best_steps)
        md += ["## Evaluated checkpoints", "", T.md_table(table), ""]
        txt += ["Evaluated checkpoints (%):", T.text_table(table), ""]
    if quick:
        note = "first K problems per dataset only: never selected, not compared with the rows above"
        md += ["## Quick checks (--limit runs)", "", note + ".", "", T.md_table(quick), ""]
        txt += [f"Quick checks (--limit runs; {note}) (%):", T.text_table(quick), ""]
    base = T.baseline_row(hist.get(baseline_phase, []))
    for ph, best in bests.items():
        best_row = next(
            (
                r
                for r in hist[ph]
                if best.get("step") is not None
                and int(r["step"]) == best["step"]
                and int(r["tier"]) == best.get("tier")
            ),
            None,
        )
        md += [f"## Best checkpoint of {ph}", "", best["explanation"], ""]
        txt += [f"Best checkpoint of {ph}: {best['explanation']}", ""]
        if best_row is not None:
            cmp_table = T.comparison_table(base, best_row, threshold)
            heading = (
                f"{baseline_phase} (step {base['step']}, tier {base['tier']}) vs {ph} step {best_row['step']}"
                if base
                else f"{ph} step {best_row['step']} (no baseline to compare against)"
            )
            md += [f"### {heading}", "", T.md_table(cmp_table), ""]
            txt += [heading + ":", T.text_table(cmp_table), ""]
    plots: list[Path] = []
    can_plot = _have_matplotlib()
    if not can_plot:  # a training box may lack it: the tables are the report, the plots a view of them
        missing.append("plots: matplotlib is not installed (pip install matplotlib); tables only")
    p = plot_metrics_per_step(hist, baseline_phase, out_dir / "metrics_per_step.png") if hist and can_plot else None
    if p:
        plots.append(p)
    if train_log and can_plot:
        try:
            rows = parse_training_log(train_log)
        except Exception as e:  # a bad log must not cost the rest of the report
            missing.append(f"training log {train_log} unreadable: {e}")
            rows = {}
        p = plot_training_curves(rows, out_dir / "training_curves.png") if rows else None
        if p:
            plots.append(p)
        elif rows == {}:
            missing.append(f"no train/val loss or lr records in {train_log}")
    elif not train_log:
        missing.append(
            "no training log given (pass --train-log <run dir>/<log>.jsonl or the console log): no loss/lr plot"
        )
    if plots:
        md += ["## Plots", ""] + [f"![{q.stem}]({q.name})" for q in plots] + [""]
    if missing:
        md += ["## Missing", ""] + [f"- {m}" for m in missing] + [""]
        txt += ["Missing:"] + [f"  - {m}" for m in missing] + [""]
    path = out_dir / "report.md"
    atomic_write_text(path, "\n".join(md))
    txt += [f"Written: {path}" + "".join(f", {q}" for q in plots)]
    return Report("\n".join(md), "\n".join(txt), path, plots, missing, warnings)


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
