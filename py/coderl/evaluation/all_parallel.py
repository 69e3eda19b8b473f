"""eval-all with several evaluations at once (--gpus N [--tp k], or --ray-address): the head's side.

The head plans exactly as a sequential run (same skips, same requests), hands the requests to Ray
(evaluation/ray_eval.py), records each returned row in the history as it arrives and writes
best_checkpoint.json once at the end: the same files and rows as one evaluation at a time, apart
from timestamps. One failed or killed evaluation fails only its own checkpoint (its cache stays
for the next run).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
from pathlib import Path

from . import history as H
from .parallel import concurrent_evaluations
from .runner import EvalRequest
from .selection import write_best_checkpoint

log = logging.getLogger(__name__)


def problem_counts(requests: list[EvalRequest]) -> dict[str, int]:
    """Problems per dataset (after --limit), for the progress lines; loading also verifies the manifests
    here, before any task starts."""
    from ..data.registry import load_eval_problems

    counts: dict[str, int] = {}
    for r in requests:
        for d in r.datasets:
            if d not in counts:
                n = len(load_eval_problems(d, r.raw_dir, r.manifests_dir))
                counts[d] = min(n, r.limit) if r.limit else n
    return counts


def _absolute(req: EvalRequest) -> EvalRequest:
    """Ray workers may start in another folder (and on another node): every path absolute."""
    return dataclasses.replace(
        req,
        out_root=Path(req.out_root).resolve(),
        raw_dir=str(Path(req.raw_dir).resolve()),
        manifests_dir=str(Path(req.manifests_dir).resolve()),
    )


def run_jobs_in_parallel(args: argparse.Namespace, cfg, jobs: list) -> tuple[list[str], int]:
    """Run the planned jobs as Ray tasks; return eval-all's lines (in step order) and the failure count."""
    from . import ray_eval

    if not args.ray_address:
        concurrent_evaluations(args.gpus, args.tp)  # a clear error for GPUS=3 TP=2 before Ray starts
    by_step: dict[int, str] = {s: j for s, j in jobs if isinstance(j, str)}
    requests = [_absolute(j) for _, j in jobs if not isinstance(j, str)]
    failed = 0
    if requests:
        totals = problem_counts(requests)
        session = ray_eval.connect(args.ray_address, args.gpus)
        recorded = 0
        try:
            ray_eval.check_shared_paths(requests[0].out_root, Path(args.ckpt_root).resolve(), Path(requests[0].raw_dir))
            print(f"eval-all: {len(requests)} evaluation(s) as Ray tasks, {args.tp} GPU(s) each", flush=True)
            for o in ray_eval.run_parallel(
                requests,
                cfg,
                tp=args.tp,
                totals=totals,
                progress_every_s=args.progress_every,
                say=lambda s: print(s, flush=True),
            ):
                step = o.request.step
                if o.row is not None:
                    H.record_evaluation(H.history_path(o.request.out_root, o.request.phase), o.row)
                    recorded += 1
                    by_step[step] = f"step {step}: evaluated at tier {o.request.tier}"
                else:
                    failed += 1
                    kind = "infrastructure failure, " if o.infrastructure else ""
                    by_step[step] = f"step {step}: FAILED, {kind}{o.error}"
                    log.error("step %s failed: %s", step, o.error)
                print(f"[done] {by_step[step]}", flush=True)
        finally:
            session.close()
            if recorded:  # also after Ctrl-C: the rows recorded so far, like a sequential run's last write
                write_best_checkpoint(args.out_root, args.phase, cfg)
    return [by_step[s] for s in sorted(by_step)], failed
