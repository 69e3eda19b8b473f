"""launch verl SFT (torchrun) with the recipe in configs/sft.yaml.

`coderl train`: launch (or resume) verl SFT with a recipe; what `make train GPUS=N` runs.
"""

from __future__ import annotations

import argparse
import shlex

from ._common import dry_run_recipe, exit_status, split_overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe",
        default="default",
        help="profile name (default -> configs/sft.yaml, runbook -> configs/sft_runbook.yaml) or a YAML path "
        "[make: PROFILE]",
    )
    p.add_argument("--gpus", type=int, default=1, help="processes per node [make: GPUS]")
    p.add_argument("--nnodes", type=int, default=1, help="nodes taking part [make: NNODES]")
    p.add_argument("--node-rank", type=int, default=0, help="this node's rank [make: NODE_RANK]")
    p.add_argument("--master-addr", default=None, help="node 0's address, multi-node [make: MASTER_ADDR]")
    p.add_argument("--master-port", type=int, default=29500, help="node 0's rendezvous port [make: MASTER_PORT]")
    p.add_argument(
        "--device",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="cpu runs the real trainer on CPU with gloo (tiny models only) [make: DEVICE]",
    )
    p.add_argument(
        "--run-dir",
        default=None,
        help="checkpoint/run directory (default: the recipe's checkpoint.dir) [make: RUN_DIR]",
    )
    p.add_argument("--quiet", action="store_true", help="one line per step instead of verl's full output")
    p.add_argument("--no-disk-check", action="store_true", help="skip the refusal when checkpoints cannot fit on disk")
    p.add_argument(
        "--dry-run", action="store_true", help="print the effective config and the torchrun command; run nothing"
    )
    p.add_argument("overrides", nargs="*", help="extra hydra overrides for verl, passed through (ARGS=...)")


def run(args: argparse.Namespace) -> int:
    from ..training.launch import torchrun_command, train
    from ..training.recipe import describe, load_recipe, recipe_to_overrides

    extra = split_overrides(args.overrides)
    if args.dry_run:
        recipe, device = dry_run_recipe(load_recipe, args)
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
