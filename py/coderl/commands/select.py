"""write best_checkpoint.json from the history.

coderl select: (re)write outputs/<phase>/best_checkpoint.json from the history and explain the choice.
"""

from __future__ import annotations

import argparse
import json


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--phase", default="phase1_sft")
    p.add_argument("--out-root", default="outputs")
    p.add_argument("--baseline-phase", default="phase0")
    p.add_argument("--eval-config", default=None, help="the selection rule's config (default: configs/eval.yaml)")
    p.add_argument("--json", action="store_true", help="print the whole best_checkpoint.json")


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..errors import DataError
    from ..evaluation.history import history_path
    from ..evaluation.selection import write_best_checkpoint

    if not history_path(args.out_root, args.phase).is_file():
        raise DataError(
            f"no history at {history_path(args.out_root, args.phase)}; evaluate checkpoints first (make eval-all)"
        )
    best = write_best_checkpoint(args.out_root, args.phase, load_eval_config(args.eval_config), args.baseline_phase)
    print(json.dumps(best, indent=2) if args.json else best["explanation"])
    return 0 if best.get("step") is not None else 1
