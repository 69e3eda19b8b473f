"""`coderl smoke` / `make smoke`: 10 training steps with checkpoints at 5 and 10, then the runbook checklist.

On a GPU box it trains the recipe's model (1 GPU by default); on CPU, unless --model is given, it
builds a tiny random-init Qwen2 (real Qwen tokenizer) and a small SFT parquet itself, so the whole
pipeline is exercised on any machine. Exit 0 only if every check passes.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path


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
    from ..paths import repo_root
    from .launch import detect_device, train
    from .recipe import load_recipe, resolve_path
    from .smoke import check_run
    from .toy_data import write_toy_sft

    device = detect_device() if args.device == "auto" else args.device
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    run_dir = Path(args.run_dir or repo_root() / "checkpoints" / "smoke" / stamp).resolve()
    base = load_recipe(args.recipe)
    over: dict = {
        "base": args.recipe if not str(args.recipe).endswith((".yaml", ".yml")) else str(Path(args.recipe).resolve()),
        "name": "smoke",
        "training": {"max_steps": args.steps},
        "checkpoint": {
            "save_freq": args.save_freq,
            "test_freq": args.save_freq,
            "resume": "auto",
            "save_hf": True,
            "save_optimizer": True,
            "max_to_keep": None,
        },
        "logging": {"experiment": "smoke", "backends": ["console"]},
    }
    build = device == "cpu" and args.model is None
    model_path = args.model
    if build:
        from ..models.tiny import build_tiny_qwen2

        model_dir = run_dir / "tiny_model"
        if not (model_dir / "config.json").is_file():
            build_tiny_qwen2(model_dir)
        model_path = str(model_dir)
    # a tiny random-init model (coderl make-tiny-model) on any device gets the toy settings
    tiny = model_path is not None and (Path(model_path) / "coderl_tiny_spec.json").is_file()
    if model_path:
        over["model"] = {"path": model_path}
    if tiny:
        # a tiny model learns visibly in 10 steps only with a large step size
        over["optim"] = {"lr": 1e-3, "warmup_ratio": 0.0}
        over["data"] = {"max_length": 512}
        over["batch"] = {"global_batch_size": 4 * args.gpus, "micro_batch_size_per_gpu": 2}
    global_batch = over.get("batch", {}).get("global_batch_size", base["batch"]["global_batch_size"])
    train_file = args.train_file
    val_file = args.val_file
    if train_file is None and (tiny or not Path(resolve_path(_first(base["data"]["train_files"]))).is_file()):
        # enough samples for every step within one epoch (verl stops after the last epoch)
        n_train = max(48, args.steps * global_batch)
        train_file, val_file = map(str, write_toy_sft(run_dir / "data", n_train=n_train, n_val=global_batch))
        print(f"smoke: using a toy SFT set ({train_file}); pass --train-file for your own data")
    if train_file is not None:
        over.setdefault("data", {}).update(train_files=train_file, val_files=val_file)
    summary = train(over, gpus=args.gpus, device=device, run_dir=run_dir, echo="metrics")
    steps = [s for s in range(args.save_freq, args.steps + 1, args.save_freq)]
    if args.steps not in steps:
        steps.append(args.steps)
    checks = check_run(run_dir, steps, summary.log_path, summary.returncode)
    print(f"\nsmoke checklist ({run_dir})")
    for c in checks:
        print(c.line())
    failed = [c for c in checks if not c.ok]
    print(f"{'ALL PASS' if not failed else f'{len(failed)} FAILED'} ({len(checks)} checks); log: {summary.log_path}")
    return 0 if not failed else 1


def _first(files) -> str:
    return files if isinstance(files, str) else files[0]
