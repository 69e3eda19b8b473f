"""judge completions against problems' tests.

`coderl judge --problems P.jsonl --completions C.jsonl --out V.jsonl [--sandbox local|URL] [--workers N] [--all-tests]`.

Writes one verdict per line in the problems' order (atomically, at the end) and prints a one-line
JSON summary last: counts per verdict, accepted, wall seconds.
"""

from __future__ import annotations

import argparse
import json

from ..errors import InfrastructureError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problems", required=True, help="problems JSONL (id, kind, tests / test_code ...)")
    parser.add_argument("--completions", required=True, help="completions JSONL: {id, code} (code null = no_code)")
    parser.add_argument("--out", required=True, help="verdicts JSONL to write")
    parser.add_argument("--sandbox", default="local", help="local (default) or a SandboxFusion URL")
    parser.add_argument(
        "--workers", type=int, default=None, help="concurrent problems (default: execution.workers; 0 = one per core)"
    )
    parser.add_argument("--all-tests", action="store_true", help="run every test even after a failure (pass ratios)")
    parser.add_argument(
        "--compare", default=None, help="stdio rule: codecontests | line | exact (default: judge.stdio_compare)"
    )
    parser.add_argument("--config", help="eval config (default configs/eval.yaml)")


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..sandbox.judge_files import judge_files

    summary = judge_files(
        load_eval_config(args.config),
        args.problems,
        args.completions,
        args.out,
        args.sandbox,
        args.workers,
        args.all_tests,
        args.compare,
    )
    infra = summary.pop("infrastructure_error", None)
    print(json.dumps(summary))
    if infra:
        raise InfrastructureError(infra)
    return 0
