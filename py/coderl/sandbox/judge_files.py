"""Judge a completions file against a problems file, in the problems' order (what `coderl judge` runs)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

from ..errors import DataError, SandboxUnavailable
from ..io_utils import atomic_write_jsonl, read_jsonl

log = logging.getLogger(__name__)


def load_completions(path: str) -> dict[str, str | None]:
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


def judge_files(
    cfg,
    problems_path: str,
    completions_path: str,
    out: str,
    sandbox: str,
    workers: int | None,
    all_tests: bool,
    compare: str | None,
) -> dict:
    """Write one verdict per problem to `out` (atomically, at the end); return the summary (counts, wall_s...).

    More sandbox errors than guard.max_sandbox_error_rate put an "infrastructure_error" message in the
    summary: the verdicts are written, but they are not a model score (the caller raises InfrastructureError)."""
    from ..data.problem import load_problems
    from . import make_executor
    from .judge import JudgePool

    problems = load_problems(problems_path)
    completions = load_completions(completions_path)
    unknown = sorted(set(completions) - {p.id for p in problems})
    if unknown:
        raise DataError(
            f"{completions_path}: {len(unknown)} completion id(s) not in {problems_path}, e.g. {unknown[0]!r}"
        )
    missing = [p.id for p in problems if p.id not in completions]
    if missing:
        log.warning(
            "%d problem(s) have no completion in %s (judged no_code), e.g. %r",
            len(missing),
            completions_path,
            missing[0],
        )
    ex = make_executor(sandbox, cfg)
    ok, why = ex.health()
    if not ok:
        raise SandboxUnavailable(f"sandbox {sandbox!r} is not healthy: {why}")
    workers = workers if workers is not None else int(cfg.execution.get("workers", 0))
    compare = compare or cfg.judge["stdio_compare"]
    stop_first = not all_tests and bool(cfg.judge.get("stop_at_first_failure", True))
    t0 = time.monotonic()
    with JudgePool(ex, workers, compare=compare, stop_at_first_failure=stop_first) as pool:
        futures = [pool.submit(p, completions.get(p.id)) for p in problems]
        verdicts = [f.result() for f in futures]
    wall = time.monotonic() - t0
    atomic_write_jsonl(out, [v.to_dict() for v in verdicts])
    counts = Counter(v.verdict for v in verdicts)
    summary = {
        "n": len(verdicts),
        "accepted": counts.get("accepted", 0),
        "counts": dict(sorted(counts.items())),
        "wall_s": round(wall, 3),
        "sandbox": sandbox,
        "isolation_level": ex.isolation_level,
        "out": out,
    }
    rate = cfg.guard.get("max_sandbox_error_rate", 0.02)
    if verdicts and counts.get("sandbox_error", 0) / len(verdicts) > rate:
        summary["infrastructure_error"] = (
            f"{counts['sandbox_error']}/{len(verdicts)} problems hit sandbox errors (above "
            f"guard.max_sandbox_error_rate={rate}); verdicts are in {out} but are not a model score"
        )
    return summary
