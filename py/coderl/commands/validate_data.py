"""judge every dataset's reference solution; report broken problems.

`coderl validate-data`: judge every dataset's own reference solution; report the problems it fails.

A reference that fails its own tests means broken tests (e.g. several valid answers judged by
exact output), a limit too tight for Python, or a flaky test. Failures are re-judged once: a
different verdict the second time marks the problem flaky. Sandbox failures are infrastructure
and are reported apart (and make the command fail), never counted against a problem.
"""

from __future__ import annotations

import argparse

from ..errors import InfrastructureError
from ..paths import RAW_DIR


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


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..data.reference_check import validate_references

    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    report, out = validate_references(
        load_eval_config(args.config),
        args.sandbox,
        names,
        args.raw_dir,
        args.manifests_dir,
        args.out,
        args.workers,
        args.recheck,
    )
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
