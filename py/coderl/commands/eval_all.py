"""evaluate every checkpoint under a root.

coderl eval-all: evaluate every global_step_N under a root (intermediate at tier 1, the final at tier 3).

Evaluations already in the history with the same (step, tier, fingerprint) are skipped (as is a
tier whose datasets a higher tier of that step already scored under the same fingerprints), so the
command can be re-run at any time (after a crash, or as training adds checkpoints). A checkpoint
without huggingface/ weights is reported and skipped. An infrastructure failure stops everything.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..evaluation.options import backend_kind
from ._common import recipe_ckpt_root
from ._eval_options import add_common_arguments


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ckpt-root",
        default=None,
        help="the folder holding global_step_N/ (verl's default_local_dir; default: configs/sft.yaml checkpoint.dir)",
    )
    p.add_argument(
        "--tier-intermediate", type=int, default=1, help="tier for every checkpoint but the last (default 1)"
    )
    p.add_argument("--tier-final", type=int, default=3, help="tier for the last checkpoint (default 3)")
    p.add_argument("--force", action="store_true", help="re-evaluate even when the history already has the evaluation")
    p.add_argument("--baseline-phase", default="phase0", help="shown beside the table at the end (default phase0)")
    p.add_argument(
        "--gpus",
        type=int,
        default=None,
        help="evaluate GPUS // TP checkpoints at once on this box, each on its own GPUs (Ray, local)",
    )
    p.add_argument("--tp", type=int, default=1, help="GPUs per evaluation (vLLM tensor parallelism; default 1)")
    p.add_argument(
        "--ray-address",
        default=None,
        help="a Ray cluster (ray start --head): one evaluation per TP GPUs across its nodes; "
        "checkpoints, data and --out-root must be on paths every node sees",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        default=15.0,
        help="with --gpus/--ray-address: seconds between progress lines (default 15)",
    )
    add_common_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..evaluation.all_checkpoints import evaluate_all
    from ..evaluation.history import history_path, read_history
    from ..evaluation.parallel import concurrent_evaluations
    from ..report import tables as T

    cfg = load_eval_config(args.eval_config)
    args.ckpt_root = args.ckpt_root or recipe_ckpt_root()
    kind = backend_kind(args)
    if kind == "openai":
        raise ConfigError(
            "eval-all evaluates many checkpoints and starts a vLLM server for each; a server at "
            "--vllm-url serves one model. Drop --vllm-url, or run coderl eval --checkpoint ... --vllm-url per checkpoint"
        )
    if args.tp < 1 or (args.gpus is not None and not args.ray_address):
        concurrent_evaluations(args.gpus if args.gpus is not None else args.tp, args.tp)  # GPUS=3 TP=2: refused
    lines, failed = evaluate_all(args, cfg, kind)
    print("\n".join(lines))
    phases = {ph: read_history(history_path(args.out_root, ph)) for ph in (args.baseline_phase, args.phase)}
    phases = {ph: rows for ph, rows in phases.items() if rows}
    if phases:
        bests = T.best_per_phase(phases, args.baseline_phase, cfg.selection, cfg.fingerprint())
        print()
        print(T.text_table(T.checkpoint_table(T.full_only(phases), {ph: b.get("step") for ph, b in bests.items()})))
        for ph, b in bests.items():
            print(f"\nbest of {ph}: {b['explanation']}")
    return 1 if failed else 0
