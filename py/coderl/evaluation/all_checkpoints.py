"""Evaluate every global_step_N under a root: which evaluations to run, then run them (what eval-all does).

Per checkpoint in step order: intermediate ones at --tier-intermediate, the last at --tier-final.
Evaluations already in the history under the same per-dataset fingerprints are skipped (also when
a higher tier of that step covered them), so a re-run resumes. A checkpoint without huggingface/
weights is reported and skipped. An infrastructure failure stops everything; any other failure of
one checkpoint is reported and the next one runs.
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING

from ..errors import CoderlError, DataError, InfrastructureError
from .options import datasets_for, eval_request

if TYPE_CHECKING:
    from .runner import EvalRequest

log = logging.getLogger(__name__)


def use_ray(args: argparse.Namespace) -> bool:
    """Ray only when it buys something: a cluster, or more than one evaluation at once."""
    return bool(args.ray_address) or (args.gpus is not None and args.gpus // max(1, args.tp) > 1)


def covering_row(rows: list[dict], step: int, wanted: dict[str, str]) -> dict | None:
    """A history row of `step` that scored every wanted dataset under the wanted per-dataset fingerprint
    (the same tier, or a higher tier that contains it: a final checkpoint evaluated at tier 3 needs no tier 1)."""
    for r in rows:
        if int(r["step"]) == int(step) and all(
            (r.get("scores") or {}).get(d, {}).get("fingerprint") == fp for d, fp in wanted.items()
        ):
            return r
    return None


def plan_jobs(args: argparse.Namespace, cfg, kind: str) -> list[tuple[int, str | EvalRequest]]:
    """Per checkpoint in step order: (step, a line saying why it is skipped) or (step, the EvalRequest to run)."""
    from ..checkpoints import discover_checkpoints
    from ..sandbox import make_executor
    from .guard import check_health
    from .history import history_path, read_history
    from .runner import eval_fingerprint
    from .runtime import runtime_identity

    ckpts = discover_checkpoints(args.ckpt_root)
    usable = [c for c in ckpts if c.hf_dir is not None]
    if not ckpts:
        raise DataError(f"no global_step_N folder under {args.ckpt_root}; train first (make train) or fix CKPT_ROOT")
    final_step = max(c.step for c in usable) if usable else None
    hist = history_path(args.out_root, args.phase)
    executor = make_executor(args.sandbox, cfg)
    try:
        check_health(executor)
        runtime = runtime_identity(args.sandbox, executor, kind, cfg)  # part of the fingerprints to skip by
    finally:
        close = getattr(executor, "close", None)
        if close is not None:
            close()
    jobs: list[tuple[int, str | EvalRequest]] = []
    for c in ckpts:
        if c.hf_dir is None:
            jobs.append((c.step, f"step {c.step}: SKIPPED, {c.problem} ({c.path})"))
            log.warning("step %s skipped: %s", c.step, c.problem)
            continue
        tier_wanted = args.tier_final if c.step == final_step else args.tier_intermediate
        tier, datasets = datasets_for(args, cfg, None if args.datasets else tier_wanted)
        done = (
            None
            if args.force
            else covering_row(
                read_history(hist),
                c.step,
                {d: eval_fingerprint(cfg, [d], args.manifests_dir, args.limit, runtime) for d in datasets},
            )
        )
        if done is not None:
            jobs.append(
                (
                    c.step,
                    f"step {c.step}: tier {tier} already in {hist} (as tier {done['tier']}, "
                    f"fingerprint {done['eval_fingerprint']}), skipped",
                )
            )
            continue
        jobs.append(
            (
                c.step,
                eval_request(
                    args,
                    kind,
                    model=str(c.hf_dir),
                    checkpoint=str(c.path.resolve()),
                    step=c.step,
                    tier=tier,
                    datasets=datasets,
                ),
            )
        )
    return jobs


def evaluate_all(args: argparse.Namespace, cfg, kind: str) -> tuple[list[str], int]:
    """Plan and run every checkpoint's evaluation: (one line per checkpoint, how many failed)."""
    from .runner import run_evaluation

    jobs = plan_jobs(args, cfg, kind)
    if use_ray(args):
        from .all_parallel import run_jobs_in_parallel

        lines, failed = run_jobs_in_parallel(args, cfg, jobs)
    else:
        lines, failed = [], 0
        for step, job in jobs:
            if isinstance(job, str):
                lines.append(job)
                continue
            if kind == "vllm" and args.tp > 1:  # one evaluation on TP GPUs (GPUS=TP): the server spans them
                job.backend_opts = {**job.backend_opts, "extra_args": ("--tensor-parallel-size", str(args.tp))}
            try:
                run_evaluation(job, cfg)
                lines.append(f"step {step}: evaluated at tier {job.tier}")
            except InfrastructureError:
                raise  # a broken sandbox or server breaks every later checkpoint too
            except CoderlError as e:
                failed += 1
                lines.append(f"step {step}: FAILED, {e}")
                log.error("step %s failed: %s", step, e)
    return lines, failed
