"""`coderl train`: launch (or resume) verl SFT with a recipe; what `make train GPUS=N` runs."""

from __future__ import annotations

import argparse
import os
import shlex


def add_arguments(p: argparse.ArgumentParser) -> None:
    env = os.environ
    p.add_argument(
        "--recipe",
        default=env.get("PROFILE") or "default",
        help="profile name (default -> configs/sft.yaml, runbook -> configs/sft_runbook.yaml) or a YAML path "
        "[env PROFILE]",
    )
    p.add_argument("--gpus", type=int, default=int(env.get("GPUS", "1")), help="processes per node [env GPUS]")
    p.add_argument("--nnodes", type=int, default=int(env.get("NNODES", "1")), help="[env NNODES]")
    p.add_argument("--node-rank", type=int, default=int(env.get("NODE_RANK", "0")), help="[env NODE_RANK]")
    p.add_argument(
        "--master-addr", default=env.get("MASTER_ADDR"), help="node 0's address, multi-node [env MASTER_ADDR]"
    )
    p.add_argument("--master-port", type=int, default=int(env.get("MASTER_PORT", "29500")), help="[env MASTER_PORT]")
    p.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default=env.get("DEVICE", "auto"),
        help="cpu runs the real trainer on CPU with gloo (tiny models only) [env DEVICE]",
    )
    p.add_argument(
        "--run-dir",
        default=env.get("RUN_DIR") or None,
        help="checkpoint/run directory (default: the recipe's checkpoint.dir) [env RUN_DIR]",
    )
    p.add_argument("--quiet", action="store_true", help="one line per step instead of verl's full output")
    p.add_argument("--no-disk-check", action="store_true", help="skip the refusal when checkpoints cannot fit on disk")
    p.add_argument(
        "--dry-run", action="store_true", help="print the effective config and the torchrun command; run nothing"
    )
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for verl, passed through (ARGS=...)")


def run(args: argparse.Namespace) -> int:
    from .launch import torchrun_command, train
    from .recipe import describe, load_recipe, recipe_to_overrides

    extra = split_overrides(args.overrides)
    if args.dry_run:
        recipe = load_recipe(args.recipe)
        if args.run_dir:
            recipe["checkpoint"]["dir"] = args.run_dir
        device = "cuda" if args.device == "auto" else args.device
        print(describe(recipe, args.gpus, args.nnodes, device))
        ov = [*recipe_to_overrides(recipe, args.gpus, args.nnodes, device), *extra]
        print(
            shlex.join(torchrun_command(ov, args.gpus, args.nnodes, args.node_rank, args.master_addr, args.master_port))
        )
        return 0
    summary = train(
        args.recipe,
        gpus=args.gpus,
        device=args.device,
        run_dir=args.run_dir,
        extra_overrides=extra,
        nnodes=args.nnodes,
        node_rank=args.node_rank,
        master_addr=args.master_addr,
        master_port=args.master_port,
        echo="metrics" if args.quiet else "full",
        disk_check=not args.no_disk_check,
    )
    return exit_status(summary)


def split_overrides(overrides: list[str]) -> list[str]:
    """The extra hydra overrides, one each: ARGS may arrive as one quoted string."""
    extra: list[str] = []
    for o in overrides:
        extra += shlex.split(o)
    return extra


def exit_status(summary) -> int:
    """A launch's exit code: 0 finished, 130 interrupted (as Ctrl-C), 1 otherwise."""
    return {"finished": 0, "interrupted": 130}.get(summary.status, 1)
