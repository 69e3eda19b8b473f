"""coderl eval-all: evaluate every global_step_N under a root (intermediate at tier 1, the final at tier 3).

Evaluations already in the history with the same (step, tier, fingerprint) are skipped (as is a
tier whose datasets a higher tier of that step already scored under the same fingerprints), so the
command can be re-run at any time (after a crash, or as training adds checkpoints). A checkpoint
without huggingface/ weights is reported and skipped. An infrastructure failure stops everything.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CoderlError, ConfigError, DataError, InfrastructureError
from .cli import add_common_arguments, backend_kind, backend_opts, datasets_for

if TYPE_CHECKING:
    from .runner import EvalRequest

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt-root", required=True, help="the folder holding global_step_N/ (verl's default_local_dir)")
    p.add_argument(
        "--tier-intermediate", type=int, default=1, help="tier for every checkpoint but the last (default 1)"
    )
    p.add_argument("--tier-final", type=int, default=3, help="tier for the last checkpoint (default 3)")
    p.add_argument("--force", action="store_true", help="re-evaluate even when the history already has the evaluation")
    p.add_argument("--baseline-phase", default="phase0", help="shown beside the table at the end (default phase0)")
    p.add_argument(
        "--gpus",
        type=int,
        default=None,
        help="evaluate GPUS // TP checkpoints at once on this box, each on its own GPUs (Ray, local)",
    )
    p.add_argument("--tp", type=int, default=1, help="GPUs per evaluation (vLLM tensor parallelism; default 1)")
    p.add_argument(
        "--ray-address",
        default=None,
        help="a Ray cluster (ray start --head): one evaluation per TP GPUs across its nodes; "
        "checkpoints, data and --out-root must be on paths every node sees",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        default=15.0,
        help="with --gpus/--ray-address: seconds between progress lines (default 15)",
    )
    add_common_arguments(p)


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
    from .runner import EvalRequest, eval_fingerprint
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
                EvalRequest(
                    model=str(c.hf_dir),
                    checkpoint=str(c.path.resolve()),
                    step=c.step,
                    phase=args.phase,
                    tier=tier,
                    datasets=datasets,
                    out_root=Path(args.out_root),
                    backend=kind,
                    vllm_url=args.vllm_url,
                    sandbox=args.sandbox,
                    raw_dir=args.raw_dir,
                    manifests_dir=args.manifests_dir,
                    limit=args.limit,
                    backend_opts=backend_opts(args, kind),
                ),
            )
        )
    return jobs


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..report import tables as T
    from .history import history_path, read_history
    from .parallel import concurrent_evaluations
    from .runner import run_evaluation

    cfg = load_eval_config(args.eval_config)
    kind = backend_kind(args)
    if kind == "openai":
        raise ConfigError(
            "eval-all evaluates many checkpoints and starts a vLLM server for each; a server at "
            "--vllm-url serves one model. Drop --vllm-url, or run coderl eval --checkpoint ... --vllm-url per checkpoint"
        )
    if args.tp < 1 or (args.gpus is not None and not args.ray_address):
        concurrent_evaluations(args.gpus if args.gpus is not None else args.tp, args.tp)  # GPUS=3 TP=2: refused
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
    print("\n".join(lines))
    phases = {ph: read_history(history_path(args.out_root, ph)) for ph in (args.baseline_phase, args.phase)}
    phases = {ph: rows for ph, rows in phases.items() if rows}
    if phases:
        bests = T.best_per_phase(phases, args.baseline_phase, cfg.selection, cfg.fingerprint())
        print()
        print(T.text_table(T.checkpoint_table(T.full_only(phases), {ph: b.get("step") for ph, b in bests.items()})))
        for ph, b in bests.items():
            print(f"\nbest of {ph}: {b['explanation']}")
    return 1 if failed else 0
