"""10-step training run plus the runbook checklist.

`coderl smoke` / `make smoke`: 10 training steps with checkpoints at 5 and 10, then the runbook checklist.

On a GPU box it trains the recipe's model (1 GPU by default); on CPU, unless --model is given, it
builds a tiny random-init Qwen2 (real Qwen tokenizer) and a small SFT parquet itself, so the whole
pipeline is exercised on any machine. Exit 0 only if every check passes.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpus", type=int, default=1)
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    p.add_argument("--recipe", default="default", help="profile or YAML to start from")
    p.add_argument("--model", default=None, help="model to train (default: the recipe's on GPU, a tiny one on CPU)")
    p.add_argument("--train-file", default=None, help="SFT parquet (default: the recipe's if present, else a toy set)")
    p.add_argument("--val-file", default=None)
    p.add_argument("--run-dir", default=None, help="default: checkpoints/smoke/<UTC time>")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--save-freq", type=int, default=5)


def run(args: argparse.Namespace) -> int:
    from ..training.smoke import run_smoke

    r = run_smoke(
        args.recipe,
        gpus=args.gpus,
        device=args.device,
        model=args.model,
        train_file=args.train_file,
        val_file=args.val_file,
        run_dir=args.run_dir,
        steps=args.steps,
        save_freq=args.save_freq,
    )
    print(f"\nsmoke checklist ({r.run_dir})")
    for c in r.checks:
        print(c.line())
    failed = [c for c in r.checks if not c.ok]
    print(f"{'ALL PASS' if not failed else f'{len(failed)} FAILED'} ({len(r.checks)} checks); log: {r.log_path}")
    return 0 if not failed else 1
