"""launch verl GRPO (Phase 2) with the recipe in configs/rl.yaml.

`coderl rl`: launch (or resume) verl's GRPO trainer with configs/rl.yaml; what `make rl GPUS=N` runs.
"""

from __future__ import annotations

import argparse
import shlex

from ._common import dry_run_recipe, exit_status, split_overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe",
        default="default",
        help="profile (default -> configs/rl.yaml, X -> configs/rl_X.yaml) or a YAML path [make: RL_PROFILE]",
    )
    p.add_argument("--gpus", type=int, default=1, help="GPUs on this node [make: GPUS]")
    p.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="cpu: the real trainer on CPU with the transformers rollout (tiny models only) [make: DEVICE]",
    )
    p.add_argument("--run-dir", default=None, help="run directory (default: checkpoint.dir) [make: RUN_DIR]")
    p.add_argument(
        "--model",
        default=None,
        help="start model (default: the recipe's model.path; best_sft resolves "
        "outputs/phase1_sft/best_checkpoint.json)",
    )
    p.add_argument(
        "--gpu-mem-gb",
        type=float,
        default=0.0,
        help="print the memory plan verdict for GPUs of this size before launching [make: GPU_MEM_GB]",
    )
    p.add_argument("--quiet", action="store_true", help="one line per step instead of verl's full output")
    p.add_argument("--no-disk-check", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print the effective config and the command; run nothing")
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for verl (ARGS=...)")


def run(args: argparse.Namespace) -> int:
    from ..rl.launch import ray_overrides, rl_command, rl_train
    from ..rl.recipe import describe_rl, load_rl_recipe, rl_overrides

    extra = split_overrides(args.overrides)
    if args.dry_run:
        recipe, device = dry_run_recipe(load_rl_recipe, args)
        print(describe_rl(recipe, args.gpus, 1, device))
        ov = [
            *rl_overrides(recipe, args.gpus, 1, device, model_path=args.model or recipe["model"]["path"]),
            *ray_overrides(args.gpus, device),
            *extra,
        ]
        print(shlex.join(rl_command(ov)))
        return 0
    summary = rl_train(
        args.recipe,
        gpus=args.gpus,
        device=args.device,
        run_dir=args.run_dir,
        extra_overrides=extra,
        model_path=args.model,
        echo="metrics" if args.quiet else "full",
        disk_check=not args.no_disk_check,
        gpu_mem_gb=args.gpu_mem_gb or None,
    )
    return exit_status(summary)
