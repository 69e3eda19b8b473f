"""evaluate one checkpoint at a tier.

coderl eval: evaluate one checkpoint (or a hub model) at a tier into outputs/<phase>/step_<N>/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..evaluation.options import backend_kind, datasets_for, eval_request
from ._common import recipe_model
from ._eval_options import add_common_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a global_step_N folder (with huggingface/) or a Hugging Face model folder")
    src.add_argument(
        "--model",
        nargs="?",
        const="",
        help="a hub id or model folder (Phase 0 baseline); without a value: configs/sft.yaml's model.path",
    )
    p.add_argument(
        "--tier", type=int, default=None, help="1, 2 or 3 (configs/datasets.yaml); required without --datasets"
    )
    p.add_argument("--step", type=int, default=None, help="step number (default: from the global_step_N name)")
    add_common_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..checkpoints import resolve_model_dir
    from ..config import load_eval_config
    from ..evaluation.runner import run_evaluation

    cfg = load_eval_config(args.eval_config)
    kind = backend_kind(args)
    if args.model == "":  # `--model` alone (make eval-baseline without MODEL=): the model SFT starts from
        args.model = recipe_model()
    if args.checkpoint:
        model_dir, step = resolve_model_dir(args.checkpoint)
        model, checkpoint = str(model_dir), str(Path(args.checkpoint).resolve())
    else:
        model, checkpoint, step = args.model, args.model, None
    step = args.step if args.step is not None else step
    if step is None:
        raise ConfigError(f"cannot tell the step of {checkpoint}; pass --step N")
    tier, datasets = datasets_for(args, cfg, args.tier)
    req = eval_request(
        args,
        kind,
        model=model,
        checkpoint=checkpoint,
        step=step,
        tier=tier,
        datasets=datasets,
        served_model=args.served_model_name or (args.model if args.model else None),
    )
    row = run_evaluation(req, cfg)
    print_row(row, Path(args.out_root))
    return 0


def print_row(row: dict, out_root: Path) -> None:
    print(f"{row['phase']} step {row['step']} tier {row['tier']} (fingerprint {row['eval_fingerprint']}):")
    for ds, s in row["scores"].items():
        acc, ex = s.get("accepted_at_1"), s.get("exec_success_rate")
        fmt = lambda x: "n/a" if x is None else f"{100 * x:5.1f}%"  # noqa: E731
        print(f"  {ds:<24} accepted@1 {fmt(acc)}  exec_success {fmt(ex)}  n={s.get('n')}")
    from ..evaluation.outputs import StepOutputs

    print(f"  outputs: {StepOutputs.for_step(out_root, row['phase'], row['step'], row.get('limit')).dir}")
    if row.get("limit"):
        print(f"  (a --limit {row['limit']} quick check: kept apart from full evaluations, never selected)")
