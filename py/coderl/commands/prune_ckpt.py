"""delete optimizer state of checkpoints not needed to resume.

`coderl prune-ckpt` / `make prune-ckpt KEEP=N`: free checkpoint disk without losing the ability to resume.
"""

from __future__ import annotations

import argparse

from ._common import recipe_ckpt_root


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ckpt-root",
        "--root",
        dest="root",
        default=None,
        help="the run directory (holds global_step_N/; default: configs/sft.yaml checkpoint.dir)",
    )
    p.add_argument(
        "--keep", type=int, default=1, help="keep optimizer state of the KEEP most recent checkpoints (>= 1)"
    )
    p.add_argument("--no-bf16", action="store_true", help="leave the HF exports in fp32")
    p.add_argument("--dry-run", action="store_true", help="say what would be freed; change nothing")


def run(args: argparse.Namespace) -> int:
    from ..training.prune import prune

    r = prune(args.root or recipe_ckpt_root(), keep=args.keep, hf_bf16=not args.no_bf16, dry_run=args.dry_run)
    verb = "would free" if args.dry_run else "freed"
    print(f"optimizer state kept: steps {r.kept_optimizer or '-'}; dropped: steps {r.dropped_optimizer or '-'}")
    print(f"HF exports {'to convert' if args.dry_run else 'converted'} to bf16: steps {r.converted_hf or '-'}")
    if r.skipped_newer:
        print(f"left alone (newer than the latest completed save, maybe being written): steps {r.skipped_newer}")
    print(f"{verb} {r.freed_bytes / 1e9:.2f} GB")
    return 0
