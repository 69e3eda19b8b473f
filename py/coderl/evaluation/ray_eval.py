"""Several evaluations at once as Ray tasks: a local Ray instance on one box (GPUS=N), or a cluster
(RAY_ADDRESS=...). coderl only describes the work (one task per checkpoint asking for TP GPUs); Ray
places it, pins each task to its GPUs (CUDA_VISIBLE_DEVICES) and queues what does not fit.

Each task evaluates one checkpoint with record=False: it writes its step folder (caches included,
so a killed task resumes on the next run) and returns the history row. The head (this process)
records the rows and selects the best checkpoint once at the end, like a sequential run does.
A task that fails or dies fails only its own checkpoint. Ctrl-C cancels every task (each stops its
server on the way out), then kills what is left; servers also die with their worker (PDEATHSIG).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CoderlError, ConfigError, InfrastructureError
from .outputs import StepOutputs
from .parallel import backend_options, judge_workers
from .runner import EvalRequest

log = logging.getLogger(__name__)

CANCEL_GRACE_S = 30.0  # for tasks to stop their servers after Ctrl-C before they are killed


@dataclass
class Outcome:
    request: EvalRequest
    row: dict | None = None  # the history row when the evaluation finished
    error: str = ""  # why it did not
    infrastructure: bool = False  # a sandbox/server failure (as opposed to a bad checkpoint)


@dataclass
class RaySession:
    owned: bool  # started here (shut down at the end) rather than attached to a running cluster

    def close(self) -> None:
        import ray

        if ray.is_initialized() and self.owned:
            ray.shutdown()


def connect(address: str | None, gpus: int | None) -> RaySession:
    """Attach to Ray: the instance this process already runs (tests), a cluster at `address`, or a new
    local one declaring `gpus` GPUs (on a CPU box these are placeholders: the hf/oracle backends run)."""
    import ray

    if ray.is_initialized():
        return RaySession(owned=False)
    if address:
        try:
            ray.init(address=address, log_to_driver=True)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(
                f"cannot reach the Ray cluster at RAY_ADDRESS={address}: {e}; start it with "
                "`ray start --head` on the head node and `ray start --address=...` on the others"
            ) from None
        return RaySession(owned=False)
    # address="local": a new instance even when $RAY_ADDRESS names a cluster (that is --ray-address's job)
    ray.init(address="local", num_cpus=os.cpu_count() or 1, num_gpus=int(gpus or 0), include_dashboard=False)
    return RaySession(owned=True)


def cluster_gpus() -> dict[str, float]:
    """GPUs per alive node id."""
    import ray

    return {n["NodeID"]: float(n["Resources"].get("GPU", 0)) for n in ray.nodes() if n.get("Alive")}


def _listing(d: Path, pattern: str) -> list[str]:
    return (
        sorted(f"{p.name}:{p.stat().st_size if p.is_file() else 'dir'}" for p in d.glob(pattern)) if d.is_dir() else []
    )


def _what_this_node_sees(marker: str, ckpt_root: str, raw_dir: str) -> dict[str, Any]:
    return {
        "host": socket.gethostname(),
        "marker": Path(marker).is_file(),
        "checkpoints": _listing(Path(ckpt_root), "global_step_*"),
        "raw": _listing(Path(raw_dir), "*"),
    }


def check_shared_paths(out_root: Path, ckpt_root: Path, raw_dir: Path) -> None:
    """Every node must see the same outputs, checkpoints and data as the head: the head writes a marker
    under out_root, a task pinned to each node looks for it and lists the other two folders."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    out_root.mkdir(parents=True, exist_ok=True)
    marker = out_root / f".coderl_shared_check_{uuid.uuid4().hex}"
    marker.write_text("written by the eval-all head\n")
    try:
        here = _what_this_node_sees(str(marker), str(ckpt_root), str(raw_dir))
        probe = ray.remote(num_cpus=0, max_retries=0)(_what_this_node_sees)
        refs = {
            nid: probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(nid, soft=False)).remote(
                str(marker), str(ckpt_root), str(raw_dir)
            )
            for nid in cluster_gpus()
        }
        for nid, ref in refs.items():
            seen = ray.get(ref, timeout=300)
            where = f"node {seen['host']} ({nid[:8]})"
            if not seen["marker"]:
                raise ConfigError(
                    f"{where} does not see {out_root} (the head's marker file is missing there): outputs "
                    "must be on a path every node mounts (NFS, a shared disk); pass --out-root on it"
                )
            for key, d in (("checkpoints", ckpt_root), ("raw", raw_dir)):
                if seen[key] != here[key]:
                    raise ConfigError(
                        f"{where} sees different contents in {d} than the head ({len(seen[key])} vs "
                        f"{len(here[key])} entries): checkpoints and data must be on a shared path"
                    )
    finally:
        marker.unlink(missing_ok=True)


def _evaluate(req: EvalRequest, cfg, tp: int, jobs: int) -> dict[str, Any]:
    """The Ray task: one evaluation on the GPUs Ray gave it, judging with this node's fair share of cores."""
    import ray

    from .runner import run_evaluation

    gpu_ids = [int(g) for g in ray.get_gpu_ids()]
    node_gpus = cluster_gpus().get(ray.get_runtime_context().get_node_id(), 0.0)
    at_once = max(1, min(jobs, int(node_gpus) // max(1, tp)))
    execution = {**cfg.execution}  # not fingerprinted: how fast, never what is scored
    if req.sandbox == "local":
        workers = judge_workers(os.cpu_count() or 1, at_once)
    else:  # remote sandboxes judge on their own cores: each evaluation gets its share of every server's limit
        from ..sandbox.multi_server import DEFAULT_PER_SERVER

        share = judge_workers(int(execution.get("sandbox_server_concurrency") or DEFAULT_PER_SERVER), at_once)
        execution["sandbox_server_concurrency"] = share
        workers = share * len(req.sandbox.split(","))
    execution["workers"] = workers
    cfg = dataclasses.replace(cfg, execution=execution)
    req = dataclasses.replace(
        req, backend_opts={**req.backend_opts, **backend_options(req.backend, gpu_ids, tp, int(cfg.serving["port"]))}
    )
    log.info("step %s on %s, GPUs %s, %d judge workers", req.step, socket.gethostname(), gpu_ids, workers)
    try:
        return {"row": run_evaluation(req, cfg, record=False)}
    except CoderlError as e:  # returned, not raised: the head reports it and the other evaluations go on
        return {"error": str(e), "infrastructure": isinstance(e, InfrastructureError)}


def progress_line(req: EvalRequest, totals: dict[str, int]) -> str | None:
    """`step N tier T: generated g/n, judged j/n` from the step's caches; None before it has started."""
    out = StepOutputs.for_step(req.out_root, req.phase, req.step)
    gen = sum(_count_lines(out.generation_cache(d)) for d in req.datasets)
    done = sum(_count_lines(out.record_cache(d)) for d in req.datasets)
    if not (gen or done):
        return None
    n = sum(totals.get(d, 0) for d in req.datasets)
    return f"step {req.step} tier {req.tier}: generated {min(gen, n)}/{n}, judged {min(done, n)}/{n}"


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def run_parallel(
    requests: list[EvalRequest],
    cfg,
    *,
    tp: int,
    totals: dict[str, int],
    progress_every_s: float = 15.0,
    say: Callable[[str], None] = print,
) -> Iterator[Outcome]:
    """Submit one task per request (TP GPUs each) and yield each Outcome as it finishes."""
    import ray

    if requests and max(cluster_gpus().values(), default=0) < tp:
        raise ConfigError(f"no Ray node has {tp} GPU(s) (TP={tp}); nodes: {sorted(cluster_gpus().values())}")
    task = ray.remote(_evaluate)
    # the biggest first (the final checkpoint's tier 3): it then runs beside the small ones instead of
    # alone at the end; Ray starts queued tasks in submission order
    ordered = sorted(requests, key=lambda r: (-r.tier, -len(r.datasets), r.step))
    pending = {
        task.options(num_gpus=tp, num_cpus=0, max_retries=0, name=f"coderl_eval_step_{r.step}").remote(
            r, cfg, tp, len(requests)
        ): r
        for r in ordered
    }
    last_shown: dict[int, str] = {}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=progress_every_s)
            for ref in ready:
                req = pending.pop(ref)
                yield _outcome(req, ref)
            for req in pending.values():  # one line per running evaluation, when it moved
                line = progress_line(req, totals)
                if line and last_shown.get(req.step) != line:
                    last_shown[req.step] = line
                    say(f"[running] {line}")
    except KeyboardInterrupt:
        _cancel(list(pending), say)
        raise


def _outcome(req: EvalRequest, ref) -> Outcome:
    import ray
    from ray.exceptions import RayError

    try:
        res = ray.get(ref)
    except RayError as e:  # the worker died (killed, OOM) or the task raised something unexpected
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome(
            req,
            error=f"the evaluation's Ray worker failed ({type(e).__name__}: {first}); "
            "re-run eval-all to resume it from its cache",
        )
    if "row" in res:
        return Outcome(req, row=res["row"])
    return Outcome(req, error=res["error"], infrastructure=res["infrastructure"])


def _cancel(refs: list, say: Callable[[str], None]) -> None:
    """Ctrl-C: KeyboardInterrupt in every task (each stops its server), then kill whatever still runs."""
    import ray

    say(f"interrupted: stopping {len(refs)} evaluation(s) and their servers...")
    for ref in refs:
        ray.cancel(ref, force=False)
    deadline = time.monotonic() + CANCEL_GRACE_S
    left = refs
    while left and time.monotonic() < deadline:
        _, left = ray.wait(left, num_returns=len(left), timeout=1.0)
    for ref in left:
        ray.cancel(ref, force=True)
    sys.stdout.flush()
