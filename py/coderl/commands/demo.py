"""the whole pipeline at toy scale on CPU.

`coderl demo` / `make demo`: coderl.demo.run_demo (tiny model -> SFT on CPU -> every checkpoint evaluated -> report).
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out-root", default="outputs/demo", help="evaluation outputs and the report (default: outputs/demo)"
    )
    p.add_argument(
        "--ckpt-root", default="checkpoints/demo", help="the tiny model and the verl run (default: checkpoints/demo)"
    )
    p.add_argument("--eval-config", default="configs/demo/eval.yaml")
    p.add_argument("--recipe", default="configs/demo/sft.yaml", help="the demo's SFT recipe")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's max_steps (e.g. a quicker run)")
    p.add_argument("--save-freq", type=int, default=None, help="override the recipe's checkpoint.save_freq")


def run(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    return run_demo(args.out_root, args.ckpt_root, args.eval_config, args.recipe, args.steps, args.save_freq)
