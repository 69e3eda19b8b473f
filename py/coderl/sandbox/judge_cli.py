"""`coderl judge --problems P.jsonl --completions C.jsonl --out V.jsonl [--sandbox local|URL] [--workers N] [--all-tests]`.

Writes one verdict per line in the problems' order (atomically, at the end) and prints a one-line
JSON summary last: counts per verdict, accepted, wall seconds.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter

from ..errors import DataError, InfrastructureError
from ..io_utils import atomic_write_jsonl, read_jsonl

log = logging.getLogger(__name__)


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


def _load_completions(path: str) -> dict[str, str | None]:
    from pathlib import Path

    if not Path(path).is_file():
        raise DataError(f"completions file not found: {path}")
    out: dict[str, str | None] = {}
    for i, row in enumerate(read_jsonl(path), start=1):
        if "id" not in row or "code" not in row:
            raise DataError(f"{path}:{i}: a completion needs 'id' and 'code' (null when nothing was extracted)")
        if row["code"] is not None and not isinstance(row["code"], str):
            raise DataError(f"{path}:{i}: 'code' must be a string or null, got {type(row['code']).__name__}")
        if row["id"] in out:
            raise DataError(f"{path}:{i}: duplicate id {row['id']!r}")
        out[row["id"]] = row["code"]
    return out


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..data.problem import load_problems
    from . import make_executor
    from .judge import JudgePool

    cfg = load_eval_config(args.config)
    problems = load_problems(args.problems)
    completions = _load_completions(args.completions)
    unknown = sorted(set(completions) - {p.id for p in problems})
    if unknown:
        raise DataError(
            f"{args.completions}: {len(unknown)} completion id(s) not in {args.problems}, e.g. {unknown[0]!r}"
        )
    missing = [p.id for p in problems if p.id not in completions]
    if missing:
        log.warning(
            "%d problem(s) have no completion in %s (judged no_code), e.g. %r",
            len(missing),
            args.completions,
            missing[0],
        )
    ex = make_executor(args.sandbox, cfg)
    ok, why = ex.health()
    if not ok:
        from ..errors import SandboxUnavailable

        raise SandboxUnavailable(f"sandbox {args.sandbox!r} is not healthy: {why}")
    workers = args.workers if args.workers is not None else int(cfg.execution.get("workers", 0))
    compare = args.compare or cfg.judge["stdio_compare"]
    stop_first = not args.all_tests and bool(cfg.judge.get("stop_at_first_failure", True))
    t0 = time.monotonic()
    with JudgePool(ex, workers, compare=compare, stop_at_first_failure=stop_first) as pool:
        futures = [pool.submit(p, completions.get(p.id)) for p in problems]
        verdicts = [f.result() for f in futures]
    wall = time.monotonic() - t0
    atomic_write_jsonl(args.out, [v.to_dict() for v in verdicts])
    counts = Counter(v.verdict for v in verdicts)
    summary = {
        "n": len(verdicts),
        "accepted": counts.get("accepted", 0),
        "counts": dict(sorted(counts.items())),
        "wall_s": round(wall, 3),
        "sandbox": args.sandbox,
        "isolation_level": ex.isolation_level,
        "out": args.out,
    }
    print(json.dumps(summary))
    rate = cfg.guard.get("max_sandbox_error_rate", 0.02)
    if verdicts and counts.get("sandbox_error", 0) / len(verdicts) > rate:
        raise InfrastructureError(
            f"{counts['sandbox_error']}/{len(verdicts)} problems hit sandbox errors (above "
            f"guard.max_sandbox_error_rate={rate}); verdicts are in {args.out} but are not a model score"
        )
    return 0
