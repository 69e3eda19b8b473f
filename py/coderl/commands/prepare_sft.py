"""check and split SFT data into verl parquet files.

`coderl prepare-sft`: check and split SFT data into verl parquet files (see coderl.data.sft).
"""

from __future__ import annotations

import argparse

from ..paths import RAW_DIR
from ._common import eval_set_list, report_outcome


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="JSONL: rows with 'messages' or 'prompt'+'response', optional 'id'")
    p.add_argument("--out-dir", default="data/sft")
    p.add_argument("--val-size", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-length", type=int, default=4096, help="tokens after the chat template (Qwen tokenizer)")
    p.add_argument(
        "--validate",
        action="store_true",
        help="drop rows with tests (test_list / stdio tests) whose response fails them in the sandbox",
    )
    p.add_argument("--sandbox", default="local", help="'local' or a SandboxFusion URL (for --validate)")
    p.add_argument(
        "--drop-duplicates", action="store_true", help="keep the first of exact/near duplicates, drop the rest"
    )
    p.add_argument("--near-dup-threshold", type=float, default=0.9, help="Jaccard of word 5-grams")
    p.add_argument("--drop-too-long", action="store_true")
    p.add_argument(
        "--decontaminate",
        dest="decontaminate",
        action="store_true",
        default=True,
        help="check n-gram overlap with the eval sets (the default)",
    )
    p.add_argument(
        "--no-decontaminate",
        dest="decontaminate",
        action="store_false",
        help="skip the n-gram overlap check against the eval sets",
    )
    p.add_argument("--drop-contaminated", action="store_true", help="drop rows overlapping eval problems")
    p.add_argument("--allow-contaminated", action="store_true", help="keep overlapping rows (reported)")
    p.add_argument(
        "--eval-sets", default=None, help="comma-separated eval sets to check (default: all non-stand-in sets)"
    )
    p.add_argument("--ngram", type=int, default=13)
    p.add_argument("--min-overlap", type=float, default=0.5, help="share of an eval prompt's n-grams that flags a row")
    p.add_argument("--raw-dir", default=RAW_DIR)
    p.add_argument("--manifests-dir", default="data/manifests")


def run(args: argparse.Namespace) -> int:
    from ..data.sft import prepare_sft

    return report_outcome(
        lambda: prepare_sft(
            args.input,
            args.out_dir,
            val_size=args.val_size,
            seed=args.seed,
            max_length=args.max_length,
            near_dup_threshold=args.near_dup_threshold,
            drop_duplicates=args.drop_duplicates,
            drop_too_long=args.drop_too_long,
            decontaminate=args.decontaminate,
            drop_contaminated=args.drop_contaminated,
            allow_contaminated=args.allow_contaminated,
            eval_sets=eval_set_list(args.eval_sets),
            ngram=args.ngram,
            min_overlap=args.min_overlap,
            raw_dir=args.raw_dir,
            manifests_dir=args.manifests_dir,
            validate=args.validate,
            sandbox=args.sandbox,
        ),
        args.out_dir,
        "sft_report.json",
    )
