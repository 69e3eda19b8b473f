"""Evaluate one checkpoint on a list of datasets: generation -> judge -> metrics -> outputs.

Generation and execution overlap: every answer is handed to the JudgePool as it arrives. Every
generation and every judged problem is appended to the step's cache the moment it exists, so a
run killed at any point (kill -9 included) resumes with nothing completed lost: cached verdicts
are reused, cached answers are only judged, the rest is generated. The history line is written
last (the commit point), after every other file, and replaces any earlier line of the same
(step, tier, fingerprint); best_checkpoint.json follows it. A --limit run (a quick check) writes
to its own step_<N>_limit<K>/ folder and its history line says `limit`: it never replaces a full
run's files and is never selected.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import EvalConfig
from ..data.problem import Problem
from ..errors import ConfigError, InfrastructureError
from ..io_utils import atomic_write_json
from ..paths import RAW_DIR
from . import history as H
from .guard import Guard, check_health
from .metrics import dataset_metrics, history_scores
from .outputs import DatasetCache, StepOutputs, checkpoint_id, prompt_sha256, write_per_problem, write_qa_log
from .run_info import run_info
from .selection import write_best_checkpoint

log = logging.getLogger(__name__)


@dataclass
class EvalRequest:
    model: str  # what the backend loads: an HF model folder or a hub id
    checkpoint: str  # what the history calls it: the global_step_N folder, model folder or hub id
    step: int
    phase: str
    tier: int  # 0 = a custom dataset list (--datasets)
    datasets: list[str]
    out_root: Path = Path("outputs")
    backend: str = "vllm"
    vllm_url: str | None = None
    sandbox: str = "local"
    raw_dir: str | Path = RAW_DIR
    manifests_dir: str | Path = "data/manifests"
    limit: int | None = None  # first N problems of each dataset (a different fingerprint, its own folder)
    served_model: str | None = None  # openai backend: the model id the server must be serving
    backend_opts: dict[str, Any] = field(default_factory=dict)


@dataclass
class DatasetPlan:
    name: str
    problems: list[Problem]
    manifest_hash: str  # of the problems evaluated (the manifest's, or of its first `limit`)
    fingerprint: str  # cfg.fingerprint({name: manifest_hash}, runtime): this dataset's scores are comparable iff equal


@dataclass
class EvalPlan:
    request: EvalRequest
    datasets: list[DatasetPlan]
    eval_fingerprint: str
    config_fingerprint: str  # of the eval config alone: selection compares only rows made under the current one
    runtime: dict[str, Any] | None = None

    @property
    def out(self) -> StepOutputs:
        return StepOutputs.for_step(self.request.out_root, self.request.phase, self.request.step, self.request.limit)


def dataset_hash(name: str, manifests_dir, limit: int | None) -> str:
    from ..data.registry import manifest_hash

    h = manifest_hash(name, manifests_dir)
    return h if not limit else hashlib.sha256(f"{h}:first{int(limit)}".encode()).hexdigest()


def eval_fingerprint(
    cfg: EvalConfig, datasets: list[str], manifests_dir, limit: int | None = None, runtime: dict[str, Any] | None = None
) -> str:
    """The fingerprint of an evaluation before running it (eval-all uses it to skip finished ones)."""
    return cfg.fingerprint({d: dataset_hash(d, manifests_dir, limit) for d in datasets}, runtime)


def plan_evaluation(req: EvalRequest, cfg: EvalConfig, runtime: dict[str, Any] | None = None) -> EvalPlan:
    """Load and verify every dataset against its manifest (DataError on any mismatch) and fingerprint it
    with the runtime (evaluation/runtime.py)."""
    from ..data.registry import load_eval_problems

    plans = []
    for name in req.datasets:
        problems = load_eval_problems(name, req.raw_dir, req.manifests_dir)
        if req.limit:
            problems = problems[: int(req.limit)]
        h = dataset_hash(name, req.manifests_dir, req.limit)
        plans.append(DatasetPlan(name, problems, h, cfg.fingerprint({name: h}, runtime)))
    fp = cfg.fingerprint({p.name: p.manifest_hash for p in plans}, runtime)
    return EvalPlan(req, plans, fp, cfg.fingerprint(), runtime)


def _progress(desc: str, total: int, initial: int, position: int):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="pb",
        position=position,
        leave=True,
        disable=None,
        dynamic_ncols=True,
    )  # disable=None: silent when stderr is not a terminal


def _record(problem: Problem, gen: dict[str, Any], extraction, prompt_hash: str, verdict) -> dict[str, Any]:
    v = verdict.to_dict() if hasattr(verdict, "to_dict") else dict(verdict)
    return {
        "id": problem.id,
        "dataset": problem.dataset,
        "prompt_sha256": prompt_hash,
        "completion": gen.get("completion", ""),
        "code": extraction.code if extraction else None,
        "extraction": (
            {
                "reason": extraction.reason,
                "n_blocks": extraction.n_blocks,
                "fixups": list(getattr(extraction, "fixups", ()) or ()),
            }
            if extraction
            else None
        ),
        "finish_reason": gen.get("finish_reason"),
        "truncated": bool(gen.get("truncated")),
        "prompt_tokens": gen.get("prompt_tokens"),
        "completion_tokens": gen.get("completion_tokens"),
        "gen_wall_s": gen.get("wall_s"),
        "generation_error": gen.get("error"),
        "verdict": v["verdict"],
        "tests_passed": v.get("tests_passed"),
        "tests_total": v.get("tests_total"),
        "first_failed_test": v.get("first_failed_test"),
        "test_statuses": v.get("test_statuses"),
        "exec_wall_s": v.get("wall_s"),
        "detail": v.get("detail", ""),
    }


class _Execution:
    """The overlapping generate -> judge loop for one plan, with caches, guard and progress bars."""

    def __init__(self, plan: EvalPlan, cfg: EvalConfig, executor, ckpt_id: str):
        self.plan, self.cfg, self.executor = plan, cfg, executor
        self.caches = {d.name: DatasetCache(plan.out, d.name, ckpt_id, d.fingerprint) for d in plan.datasets}
        self.problems = {(d.name, p.id): p for d in plan.datasets for p in d.problems}
        self.records: dict[str, dict[str, dict]] = {}
        self.generations: dict[str, dict[str, dict]] = {}
        self.prompts: dict[tuple[str, str], list[dict]] = {}
        self.results: queue.Queue = queue.Queue()
        self.outstanding = 0
        self.stats = {"cached_records": 0, "cached_generations": 0, "generated": 0, "judged": 0}

    def messages(self, p: Problem) -> list[dict]:
        from ..generation.prompts import build_messages

        key = (p.dataset, p.id)
        if key not in self.prompts:
            self.prompts[key] = build_messages(p, self.cfg)
        return self.prompts[key]

    def load_caches(self) -> tuple[list[tuple[Problem, dict]], list[Problem]]:
        to_judge, to_generate = [], []
        for d in self.plan.datasets:
            ids = {p.id for p in d.problems}
            recs = {k: v for k, v in self.caches[d.name].records().items() if k in ids}
            gens = {k: v for k, v in self.caches[d.name].generations().items() if k in ids}
            self.records[d.name], self.generations[d.name] = recs, gens
            self.stats["cached_records"] += len(recs)
            self.stats["cached_generations"] += len(gens)
            for p in d.problems:
                if p.id in recs:
                    continue
                (to_judge.append((p, gens[p.id])) if p.id in gens else to_generate.append(p))
        return to_judge, to_generate

    def _on_judged(self, problem: Problem, gen: dict, extraction, prompt_hash: str, fut) -> None:
        # runs in a judge thread (or in the main thread: when the future was done before the callback was
        # added, or is cancelled by the pool's shutdown): cache a real verdict at once (kill -9 safe), hand
        # everything to the main thread
        try:
            verdict = fut.result()
            rec = _record(problem, gen, extraction, prompt_hash, verdict)
            # infrastructure failures are retried on resume, never cached; nor is an empty answer (the
            # guard's business: a server fault, regenerated once the server is fixed)
            if rec["verdict"] != "sandbox_error" and gen.get("completion"):
                self.caches[problem.dataset].add_record(problem.id, rec)
        except BaseException as e:  # a judge bug is an infrastructure failure, not the model's
            if (
                isinstance(e, KeyboardInterrupt)
                and threading.current_thread() is threading.main_thread()
                and not fut.cancelled()  # the pool's shutdown cancelling the rest: let it finish
            ):
                raise  # Ctrl-C (or Ray's cancel) landed here: the user's, never a verdict
            rec = _record(
                problem, gen, extraction, prompt_hash, {"verdict": "sandbox_error", "detail": f"judge raised {e!r}"}
            )
        self.results.put(rec)

    def submit(self, pool, problem: Problem, gen: dict) -> None:
        from ..generation.client import PROMPT_TOO_LONG
        from ..generation.extract import extract_for_problem

        prompt_hash = prompt_sha256(self.messages(problem))
        if gen.get("finish_reason") == PROMPT_TOO_LONG:  # the server refused the prompt: nothing to judge
            rec = _record(
                problem, gen, None, prompt_hash, {"verdict": PROMPT_TOO_LONG, "detail": gen.get("detail") or ""}
            )
            self.caches[problem.dataset].add_record(problem.id, rec)
            self.outstanding += 1
            self.results.put(rec)
            return
        extraction = extract_for_problem(gen.get("completion") or "", problem)
        fut = pool.submit(problem, extraction.code)
        self.outstanding += 1
        fut.add_done_callback(lambda f, p=problem, g=gen, e=extraction, h=prompt_hash: self._on_judged(p, g, e, h, f))

    def drain(self, guard: Guard, bars: dict, block: bool) -> None:
        while self.outstanding:
            try:
                rec = self.results.get(timeout=0.5) if block else self.results.get_nowait()
            except queue.Empty:
                if block:
                    continue
                return
            self.outstanding -= 1
            self.stats["judged"] += 1
            self.records[rec["dataset"]][rec["id"]] = rec
            bars[rec["dataset"]][1].update(1)
            if rec["verdict"] == "sandbox_error":
                guard.sandbox_error(f"{rec['dataset']}/{rec['id']}", rec.get("detail") or "sandbox_error")

    def run(self, make_backend_cm, workers: int) -> dict[str, float]:
        from ..generation.client import PROMPT_TOO_LONG
        from ..sandbox.judge import JudgePool

        to_judge, to_generate = self.load_caches()
        guard = Guard.from_config(self.cfg.guard, sum(len(d.problems) for d in self.plan.datasets))
        bars = {}
        for i, d in enumerate(self.plan.datasets):
            n = len(d.problems)
            bars[d.name] = (
                _progress(f"{d.name} generated", n, len(self.generations[d.name]) + 0, 2 * i),
                _progress(f"{d.name} judged", n, len(self.records[d.name]), 2 * i + 1),
            )
        t0 = time.monotonic()
        pool = JudgePool(
            self.executor,
            workers,
            compare=self.cfg.judge["stdio_compare"],
            stop_at_first_failure=bool(self.cfg.judge["stop_at_first_failure"]),
        )
        finished = False
        try:
            for p, gen in to_judge:
                self.submit(pool, p, gen)
            if to_generate:
                items = ((p, self.messages(p)) for p in to_generate)
                with make_backend_cm() as backend:
                    served = getattr(getattr(backend, "client", None), "model", None)
                    if served:
                        self.stats["served_model"] = served
                        log.info("generating with %s serving %r", backend.name, served)
                    for g in backend.generate(items):
                        p = self.problems.get((g.dataset, g.id))
                        if p is None:
                            log.warning("backend answered an unknown problem %s/%s; ignored", g.dataset, g.id)
                            continue
                        gen = g.to_dict()
                        self.stats["generated"] += 1
                        bars[p.dataset][0].update(1)
                        if g.error:
                            self.records[p.dataset][p.id] = _record(
                                p,
                                gen,
                                None,
                                prompt_sha256(self.messages(p)),
                                {"verdict": "generation_error", "detail": g.error},
                            )
                            bars[p.dataset][1].update(1)
                            guard.generation_failure(f"{p.dataset}/{p.id}", g.error)
                        else:
                            if g.finish_reason != PROMPT_TOO_LONG:
                                guard.answer(f"{p.dataset}/{p.id}", g.completion)
                            if g.completion or g.finish_reason == PROMPT_TOO_LONG:
                                self.caches[p.dataset].add_generation(p.id, gen)  # empty ones: regenerated
                            self.generations[p.dataset][p.id] = gen
                            self.submit(pool, p, gen)
                        self.drain(guard, bars, block=False)
            t_gen = time.monotonic()
            guard.check_empty()  # a run smaller than EMPTY_MIN_ANSWERS is judged here, on all its answers
            self.drain(guard, bars, block=True)
            finished = True
        finally:
            for gb, jb in bars.values():
                gb.close()
                jb.close()
            pool.close(wait=finished)  # on a failure, drop queued work: the caches keep what finished
        t_end = time.monotonic()
        missing = [(d.name, p.id) for d in self.plan.datasets for p in d.problems if p.id not in self.records[d.name]]
        if missing:
            raise InfrastructureError(
                f"{len(missing)} problem(s) got no answer from the backend (first: {missing[0]}); "
                "nothing recorded in the history; re-run to resume"
            )
        return {
            "total_s": round(t_end - t0, 3),
            "generation_phase_s": round(t_gen - t0, 3),
            "execution_tail_s": round(t_end - t_gen, 3),
        }


def _workers(cfg: EvalConfig, executor=None) -> int:
    # unset: what the executor can take at once (remote sandboxes: servers x per-server limit), else the cores
    return int(cfg.execution.get("workers") or 0) or getattr(executor, "capacity", 0) or (os.cpu_count() or 1)


def _context_need(req: EvalRequest, cfg: EvalConfig, prompts):
    """The longest planned prompt + max_new_tokens, counted with the model's tokenizer (served backends only).

    vllm: required (the server is sized from it). openai: best effort (a hub id not on this machine
    cannot be counted; a prompt the server then refuses is that problem's prompt_too_long).
    """
    from ..generation.context import load_tokenizer, longest_prompt
    from ..generation.vllm_server import model_source

    if req.backend not in ("vllm", "openai"):
        return None
    source = req.model if req.backend == "vllm" else (req.served_model or req.model)
    try:
        tok = load_tokenizer(model_source(source), local_only=req.backend != "vllm")
    except Exception as e:  # noqa: BLE001 - any loader failure means: cannot count here
        if req.backend == "vllm":
            raise ConfigError(
                f"cannot load the tokenizer of {source} to size the server's context ({e}); "
                "give a model folder with its tokenizer files"
            ) from None
        log.warning(
            "cannot count prompt tokens with %s's tokenizer (%s): the server's context is not checked "
            "before generating",
            source,
            e,
        )
        return None
    return longest_prompt(tok, prompts(), int(cfg.generation["max_new_tokens"]))


def _backend_cm(req: EvalRequest, cfg: EvalConfig, prompts):
    """prompts(): (dataset/id, messages) of every planned problem, to size or check the server's context."""

    @contextmanager
    def make():
        from ..generation import make_backend
        from ..generation.context import check_served_context, serving_max_model_len
        from ..generation.vllm_server import model_source

        kind = req.backend
        # openai: the server must serve the named model; a checkpoint folder is only checked when the
        # served name is given (coderl serve names it as typed), else the one model served is used and logged
        model = req.served_model if kind == "openai" else req.model
        need = _context_need(req, cfg, prompts)
        opts = dict(req.backend_opts)
        if kind == "vllm" and need is not None:
            opts.setdefault("max_model_len", serving_max_model_len(cfg, model_source(req.model), need))
        with make_backend(kind, cfg=cfg, model=model, url=req.vllm_url, **opts) as backend:
            if kind == "openai" and need is not None:
                check_served_context(backend.client.served_max_model_len(), need, backend.client.base_url)
            yield backend

    return make


def run_evaluation(
    req: EvalRequest, cfg: EvalConfig, plan: EvalPlan | None = None, *, record: bool = True
) -> dict[str, Any]:
    """Evaluate; write the step folder, the history line and best_checkpoint.json; return the history row.

    record=False leaves the history and best_checkpoint.json to the caller (eval-all running several
    evaluations at once: its parent records every row and selects once, as a sequential run ends)."""
    from ..sandbox import make_executor
    from .runtime import runtime_identity

    started = datetime.now(UTC)
    executor = make_executor(req.sandbox, cfg)
    check_health(executor)
    plan = plan or plan_evaluation(
        req, cfg, runtime_identity(req.sandbox, executor, req.backend, cfg, req.backend_opts)
    )
    out = plan.out
    ckpt_id = checkpoint_id(req.model)
    ex = _Execution(plan, cfg, executor, ckpt_id)
    log.info(
        "evaluating %s (step %s, tier %s) on %s -> %s",
        req.checkpoint,
        req.step,
        req.tier,
        ", ".join(d.name for d in plan.datasets),
        out.dir,
    )
    prompts = lambda: ((f"{d.name}/{p.id}", ex.messages(p)) for d in plan.datasets for p in d.problems)  # noqa: E731
    try:
        timings = ex.run(_backend_cm(req, cfg, prompts), _workers(cfg, executor))
    finally:
        # on Ctrl-C this kills the executions still running (at the unshare/rlimits levels they are in
        # sessions of their own and would outlive us) and lets the judge threads end at once
        close = getattr(executor, "close", None)
        if close is not None:
            close()

    metrics: dict[str, Any] = {}
    for d in plan.datasets:
        recs = [ex.records[d.name][p.id] for p in d.problems]
        write_per_problem(out, d.name, recs)
        write_qa_log(out, d.name, recs, {p.id: ex.messages(p)[-1]["content"] for p in d.problems})
        metrics[d.name] = {**dataset_metrics(recs), "fingerprint": d.fingerprint}
    common = {
        "phase": req.phase,
        "step": req.step,
        "tier": req.tier,
        "checkpoint": req.checkpoint,
        "eval_fingerprint": plan.eval_fingerprint,
        "config_fingerprint": plan.config_fingerprint,
        "runtime": plan.runtime,
        "limit": req.limit,
    }
    atomic_write_json(out.metrics_json, {**common, "datasets": metrics})
    atomic_write_json(
        out.summary_json,
        {
            **common,
            "elapsed_s": timings["total_s"],
            "datasets": {
                ds: {
                    k: m[k]
                    for k in (
                        "n",
                        "accepted_at_1",
                        "exec_success_rate",
                        "no_code_rate",
                        "truncated_rate",
                        "n_prompt_too_long",
                    )
                }
                for ds, m in metrics.items()
            },
        },
    )
    atomic_write_json(
        out.eval_info_json,
        {
            **common,
            "checkpoint_id": ckpt_id,
            "model": req.model,
            "datasets": {
                d.name: {"manifest_hash": d.manifest_hash, "fingerprint": d.fingerprint, "n_problems": len(d.problems)}
                for d in plan.datasets
            },
            "eval_config": cfg.as_dict(),
        },
    )
    atomic_write_json(
        out.run_info_json,
        run_info(
            started=started,
            timings=timings,
            stats=ex.stats,
            workers=_workers(cfg, executor),
            backend=req.backend,
            vllm_url=req.vllm_url,
            sandbox=req.sandbox,
            executor=executor,
        ),
    )

    row = {
        **common,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "backend": req.backend,
        "scores": {ds: {**history_scores(m), "fingerprint": m["fingerprint"]} for ds, m in metrics.items()},
    }
    if record:
        H.record_evaluation(H.history_path(req.out_root, req.phase), row)
        write_best_checkpoint(req.out_root, req.phase, cfg)
    return row
