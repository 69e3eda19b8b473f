"""check and split problems with tests into verl RL parquet files.

`coderl prepare-rl`: verified problems with tests -> verl RL parquet (see coderl.rl.data); `make prepare-rl`.
"""

from __future__ import annotations

import argparse

from ..errors import ConfigError
from ._common import add_decontamination_arguments, decontamination_options, report_outcome


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--input",
        help="local JSONL: codecontests_train300 format (id, statement, solution, tests) or coderl Problem records",
    )
    src.add_argument(
        "--hf", action="store_true", help="deepmind/code_contests train (local parquet in --source, else the hub)"
    )
    p.add_argument("--source", default=None, help="with --hf: a folder holding a train-*.parquet snapshot")
    p.add_argument("--cache-dir", default="data/cache")
    p.add_argument("--limit", type=int, default=None, help="with --hf: only the first N train rows")
    p.add_argument("--out-dir", default="data/rl")
    p.add_argument("--val-size", type=int, default=64, help="held-out problems for verl's validation reward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-tests", type=int, default=5, help="fewer tests -> dropped (DeepCoder, Skywork-OR1)")
    p.add_argument("--max-prompt-length", type=int, default=2048, help="prompt tokens with the chat template")
    p.add_argument(
        "--no-validate",
        dest="validate",
        action="store_false",
        help="skip judging each reference against its own tests (not for real runs)",
    )
    p.add_argument("--no-decontaminate", dest="decontaminate", action="store_false")
    add_decontamination_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..rl.data import prepare_rl
    from ..rl.sources import load_rl_source

    if args.min_tests < 1:
        raise ConfigError(f"--min-tests {args.min_tests}: must be at least 1")
    items, name, sha = load_rl_source(args.input, args.source, args.cache_dir, args.limit)
    return report_outcome(
        lambda: prepare_rl(
            items,
            args.out_dir,
            input_name=name,
            input_sha256=sha,
            val_size=args.val_size,
            seed=args.seed,
            min_tests=args.min_tests,
            max_prompt_length=args.max_prompt_length,
            decontaminate=args.decontaminate,
            validate=args.validate,
            **decontamination_options(args),
        ),
        args.out_dir,
        "rl_report.json",
    )
