"""Judge every dataset's own reference solution against its tests (what `coderl validate-data` runs).

A reference that fails its own tests means broken tests (e.g. several valid answers judged by
exact output), a limit too tight for Python, or a flaky test. Failures are re-judged once: a
different verdict the second time marks the problem flaky. Sandbox failures are counted apart
(class sandbox_error) so that the caller can treat them as infrastructure, never against a problem.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import DataError, InfrastructureError
from ..io_utils import atomic_write_json
from .registry import load_eval_problems, raw_path, resolve

log = logging.getLogger(__name__)


def validate_dataset(name: str, problems, pool, recheck: bool) -> dict[str, Any]:
    with_ref = [p for p in problems if p.reference_code]
    futures = [(p, pool.submit(p, p.reference_code)) for p in with_ref]
    verdicts = {}
    step = max(1, len(futures) // 10)
    for k, (p, f) in enumerate(futures, start=1):
        verdicts[p.id] = f.result()
        if k % step == 0 or k == len(futures):
            log.info("%s: %d/%d references judged", name, k, len(futures))
    failed = [p for p in with_ref if not verdicts[p.id].accepted]
    second = {}
    if recheck and failed:
        second = {p.id: f.result() for p, f in [(p, pool.submit(p, p.reference_code)) for p in failed]}
    failures, counts = [], Counter()
    for p in failed:
        v = verdicts[p.id]
        flaky = p.id in second and second[p.id].verdict != v.verdict
        kind = "sandbox_error" if v.verdict == "sandbox_error" else ("flaky" if flaky else v.verdict)
        counts[kind] += 1
        failures.append(
            {
                "id": p.id,
                "verdict": v.verdict,
                "class": kind,
                "detail": v.detail,
                "first_failed_test": v.first_failed_test,
                "tests_total": v.tests_total,
                "recheck_verdict": second[p.id].verdict if p.id in second else None,
                "time_limit_s": p.time_limit_s,
            }
        )
    return {
        "problems": len(problems),
        "with_reference": len(with_ref),
        "no_reference": len(problems) - len(with_ref),
        "reference_accepted": len(with_ref) - len(failed),
        "reference_failed": len(failed),
        "by_class": dict(sorted(counts.items())),
        "failures": failures,
    }


def validate_references(
    cfg, sandbox: str, names: list[str], raw_dir: str, manifests_dir: str, out: str, workers: int | None, recheck: bool
) -> tuple[dict[str, Any], Path]:
    """Judge the references of `names` (default: every dataset whose raw file exists); write the report to `out`."""
    from ..sandbox import make_executor
    from ..sandbox.judge import JudgePool

    names = names or [n for n in cfg.datasets if raw_path(n, raw_dir).is_file()]
    if not names:
        raise DataError(f"no raw datasets in {resolve(raw_dir)}; build them first: make data")
    executor = make_executor(sandbox, cfg)
    ok, why = executor.health()
    if not ok:
        raise InfrastructureError(f"sandbox '{sandbox}' is not usable: {why}")
    workers = workers if workers is not None else cfg.execution.get("workers", 0)
    report: dict[str, Any] = {
        "sandbox": sandbox,
        "isolation": getattr(executor, "isolation_level", "?"),
        "limits": cfg.sandbox,
        "compare": cfg.judge["stdio_compare"],
        "datasets": {},
    }
    with JudgePool(
        executor,
        workers,
        compare=cfg.judge["stdio_compare"],
        stop_at_first_failure=cfg.judge.get("stop_at_first_failure", True),
    ) as pool:
        for name in names:
            problems = load_eval_problems(name, raw_dir, manifests_dir)
            log.info("validating %s: %d problems", name, len(problems))
            report["datasets"][name] = validate_dataset(name, problems, pool, recheck)
    path = resolve(out)
    atomic_write_json(path, report)
    return report, path
