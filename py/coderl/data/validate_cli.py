"""`coderl validate-data`: judge every dataset's own reference solution; report the problems it fails.

A reference that fails its own tests means broken tests (e.g. several valid answers judged by
exact output), a limit too tight for Python, or a flaky test. Failures are re-judged once: a
different verdict the second time marks the problem flaky. Sandbox failures are infrastructure
and are reported apart (and make the command fail), never counted against a problem.
"""

from __future__ import annotations

import argparse
import logging
from collections import Counter
from typing import Any

from ..config import load_eval_config
from ..errors import DataError, InfrastructureError
from ..io_utils import atomic_write_json
from ..paths import RAW_DIR
from .registry import load_eval_problems, raw_path, resolve

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sandbox", default="local", help="'local' or a SandboxFusion URL")
    p.add_argument("--datasets", default="", help="comma-separated (default: every dataset whose raw file exists)")
    p.add_argument("--raw-dir", default=RAW_DIR)
    p.add_argument("--manifests-dir", default="data/manifests")
    p.add_argument("--out", default="outputs/data_validation/report.json")
    p.add_argument(
        "--workers", type=int, default=None, help="parallel problems (default: execution.workers in eval.yaml)"
    )
    p.add_argument(
        "--no-recheck", dest="recheck", action="store_false", help="do not re-judge failures to spot flaky tests"
    )
    p.add_argument("--strict", action="store_true", help="exit 1 when any reference fails")
    p.add_argument("--config", default=None)


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


def run(args: argparse.Namespace) -> int:
    from ..sandbox import make_executor
    from ..sandbox.judge import JudgePool

    cfg = load_eval_config(args.config)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()] or [
        n for n in cfg.datasets if raw_path(n, args.raw_dir).is_file()
    ]
    if not names:
        raise DataError(f"no raw datasets in {resolve(args.raw_dir)}; build them first: make data")
    executor = make_executor(args.sandbox, cfg)
    ok, why = executor.health()
    if not ok:
        raise InfrastructureError(f"sandbox '{args.sandbox}' is not usable: {why}")
    workers = args.workers if args.workers is not None else cfg.execution.get("workers", 0)
    report: dict[str, Any] = {
        "sandbox": args.sandbox,
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
            problems = load_eval_problems(name, args.raw_dir, args.manifests_dir)
            log.info("validating %s: %d problems", name, len(problems))
            report["datasets"][name] = validate_dataset(name, problems, pool, args.recheck)
    out = resolve(args.out)
    atomic_write_json(out, report)
    print(f"{'dataset':<24} {'problems':>8} {'no_ref':>6} {'ok':>5} {'failed':>6}  by class")
    for name, d in report["datasets"].items():
        print(
            f"{name:<24} {d['problems']:>8} {d['no_reference']:>6} {d['reference_accepted']:>5} "
            f"{d['reference_failed']:>6}  {d['by_class'] or ''}"
        )
    print(f"report: {out}")
    infra = sum(d["by_class"].get("sandbox_error", 0) for d in report["datasets"].values())
    if infra:
        raise InfrastructureError(
            f"{infra} reference run(s) failed in the sandbox itself (see {out}); fix the sandbox and re-run"
        )
    failed = sum(d["reference_failed"] for d in report["datasets"].values())
    return 1 if (args.strict and failed) else 0
