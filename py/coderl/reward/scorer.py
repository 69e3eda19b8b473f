"""RewardScorer: one answer text + its problem -> a reward dict, through the evaluation's judge.

The same steps as `make eval` (evaluation/runner.py): `extract_for_problem` pulls the program out
of the answer, `judge_problem` runs it in the sandbox with the limits of configs/eval.yaml and the
configured stdio comparison. So reward 1 means exactly "`coderl judge` accepts".

Infrastructure failures are never a reward: a `sandbox_error` verdict (or an exception in the
sandbox path) is retried with back-off; when every attempt fails the call raises
InfrastructureError and the trainer stops, instead of training on a wrong 0.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
from typing import Any

from ..data.problem import Problem
from ..errors import CoderlError, InfrastructureError, SandboxUnavailable
from ..generation.extract import extract_for_problem
from ..sandbox import make_executor
from ..sandbox.judge import judge_problem
from ..sandbox.types import Verdict
from . import modes

log = logging.getLogger(__name__)

# The keys of every reward dict, always all present: verl stacks each key over the batch.
RESULT_KEYS = ("score", "acc", "verdict", "tests_passed", "tests_total", "tests_run", "wall_s", "extraction")


class RewardScorer:
    """Judges answers concurrently on `workers` threads (0 = one per core), one sandbox each.

    Thread-safe; `submit` returns a Future[dict] (the async reward awaits it), `score` blocks.
    """

    def __init__(
        self, cfg, *, sandbox: str = "local", workers: int | None = None, retries: int = 2, retry_wait_s: float = 1.0
    ) -> None:
        self.cfg = cfg
        self.sandbox = sandbox
        self.executor = make_executor(sandbox, cfg)
        ok, why = self.executor.health()
        if not ok:
            raise SandboxUnavailable(
                f"reward: sandbox {sandbox!r} is not healthy: {why}; no reward can be computed (docs/sandbox.md)"
            )
        if workers is None:
            workers = int(cfg.execution.get("workers", 0))
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.compare = cfg.judge["stdio_compare"]
        self.retries = int(retries)
        self.retry_wait_s = float(retry_wait_s)
        self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="reward")

    def submit(self, solution_str: str | None, problem: Problem, mode: str = "binary") -> cf.Future[dict]:
        modes.check_mode(mode)
        return self._pool.submit(self.score_now, solution_str, problem, mode)

    def score(self, solution_str: str | None, problem: Problem, mode: str = "binary") -> dict[str, Any]:
        return self.submit(solution_str, problem, mode).result()

    def score_now(self, solution_str: str | None, problem: Problem, mode: str = "binary") -> dict[str, Any]:
        """Score on the calling thread (the pool's threads call this)."""
        t0 = time.monotonic()
        extraction = extract_for_problem(solution_str or "", problem)
        verdict = self.judge(problem, extraction.code, stop_at_first_failure=modes.stops_at_first_failure(mode))
        return {
            "score": modes.score(verdict, mode),
            "acc": 1.0 if verdict.accepted else 0.0,
            "verdict": verdict.verdict,
            "tests_passed": int(verdict.tests_passed),
            "tests_total": int(verdict.tests_total),
            "tests_run": len(verdict.test_statuses),  # binary stops at the first failure
            "wall_s": round(time.monotonic() - t0, 4),
            "extraction": extraction.reason,
        }

    def judge(self, problem: Problem, code: str | None, *, stop_at_first_failure: bool) -> Verdict:
        """judge_problem, with sandbox failures retried; raises InfrastructureError if they persist."""
        attempts = 1 + max(0, self.retries)
        why = ""
        for attempt in range(attempts):
            try:
                verdict = judge_problem(
                    problem, code, self.executor, compare=self.compare, stop_at_first_failure=stop_at_first_failure
                )
            except CoderlError:
                raise
            except Exception as e:  # a failure in the sandbox machinery, not the answer's doing
                why = f"{type(e).__name__}: {e}"
            else:
                if verdict.verdict != "sandbox_error":
                    return verdict
                why = verdict.detail or "sandbox_error"
            if attempt + 1 < attempts:
                log.warning(
                    "reward: sandbox failure on %s (attempt %d/%d): %s; retrying",
                    problem.id,
                    attempt + 1,
                    attempts,
                    why,
                )
                time.sleep(self.retry_wait_s * (2**attempt))
        raise InfrastructureError(
            f"reward: the sandbox {self.sandbox!r} failed {attempts} times in a row on problem {problem.id!r} "
            f"({why[:300]}); stopping instead of training on a wrong reward. Check the sandbox "
            f"(coderl judge on a known solution, docs/sandbox.md) and resume from the last checkpoint"
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)


_scorers: dict[tuple, RewardScorer] = {}
_scorers_lock = threading.Lock()


def get_scorer(
    config: str | None = None, sandbox: str = "local", workers: int | None = None, retries: int = 2
) -> RewardScorer:
    """The process's scorer for these settings (verl calls the reward once per answer)."""
    key = (config, sandbox, workers, retries)
    with _scorers_lock:
        scorer = _scorers.get(key)
        if scorer is None:
            from ..config import load_eval_config

            scorer = RewardScorer(load_eval_config(config), sandbox=sandbox, workers=workers, retries=retries)
            _scorers[key] = scorer
        return scorer
