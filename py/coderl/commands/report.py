"""comparison tables and plots from the eval histories.

coderl report: comparison tables and plots from the eval histories (terminal + report.md + PNGs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import recipe_ckpt_root

RUN_METRICS = "metrics.jsonl"  # what coderl train appends in the run folder (coderl.training.run_record)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--outputs-root", default="outputs", help="folder holding <phase>/eval_history.jsonl (default: outputs)"
    )
    p.add_argument(
        "--phase",
        action="append",
        default=None,
        help="only this trained phase (repeatable; default: every phase found)",
    )
    p.add_argument("--baseline-phase", default="phase0", help="the Phase 0 folder name (default: phase0)")
    p.add_argument("--train-log", default=None, help="training log: verl console output or a metrics jsonl")
    p.add_argument(
        "--ckpt-root",
        default=None,
        help="training run folder; its metrics.jsonl (written by coderl train) is the default --train-log "
        "(default: configs/sft.yaml checkpoint.dir)",
    )
    p.add_argument("--out", default=None, help="output folder (default: <outputs-root>/report)")
    p.add_argument("--title", default="coderl evaluation report")
    p.add_argument(
        "--eval-config", default=None, help="eval config for the selection rule (default: configs/eval.yaml)"
    )


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..report.build import build_report

    cfg = load_eval_config(args.eval_config)
    out = Path(args.out) if args.out else Path(args.outputs_root) / "report"
    train_log = args.train_log
    if train_log is None:
        ckpt_root = Path(args.ckpt_root or recipe_ckpt_root())
        train_log = ckpt_root / RUN_METRICS if (ckpt_root / RUN_METRICS).is_file() else None
    report = build_report(
        args.outputs_root,
        out,
        cfg.selection,
        phases=args.phase,
        baseline_phase=args.baseline_phase,
        train_log=train_log,
        title=args.title,
        config_fingerprint=cfg.fingerprint(),
    )
    print(report.text)
    return 0
