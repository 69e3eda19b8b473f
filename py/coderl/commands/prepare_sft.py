"""check and split SFT data into verl parquet files.

`coderl prepare-sft`: check and split SFT data into verl parquet files (see coderl.data.sft).
"""

from __future__ import annotations

import argparse

from ._common import add_decontamination_arguments, decontamination_options, report_outcome


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
    add_decontamination_arguments(p)


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
            validate=args.validate,
            **decontamination_options(args),
        ),
        args.out_dir,
        "sft_report.json",
    )
