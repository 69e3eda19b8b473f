"""The infrastructure guard: sandbox and server failures stop a run instead of becoming scores.

Before the run the executor (and the backend, if it can tell) must report healthy. During the
run, each kind of failure has a budget: `max_*_rate` of the problems planned. The first failure
beyond the budget stops the run with InfrastructureError naming what failed; nothing is recorded
in the history, and the caches keep every good result for a resumed run.

Answers with empty message content are not a model that "wrote no code": they come from a wrong
chat template, a reasoning parser that moved the text elsewhere, or the wrong model served. Once
EMPTY_MIN_ANSWERS answers (or all of a smaller run) are in, a share of empty ones above
`max_empty_answer_rate` stops the run the same way (empty answers are never cached).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..errors import InfrastructureError

log = logging.getLogger(__name__)

EMPTY_MIN_ANSWERS = 20  # answers seen before the empty-content share is judged (all of a smaller run)


def check_health(executor, backend=None) -> None:
    ok, msg = executor.health()
    if not ok:
        raise InfrastructureError(
            f"sandbox not healthy before the run: {msg}; fix the sandbox (make sandbox / --sandbox) and re-run"
        )
    health = getattr(backend, "health", None)
    if callable(health):
        ok, msg = health()
        if not ok:
            raise InfrastructureError(f"generation backend not healthy before the run: {msg}")


@dataclass
class Guard:
    planned: int  # problems this run will generate/judge
    max_sandbox_error_rate: float
    max_generation_failure_rate: float
    max_empty_answer_rate: float = 0.9
    sandbox_errors: list[str] = field(default_factory=list)
    generation_failures: list[str] = field(default_factory=list)
    answers: int = 0
    empty_answers: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, guard_cfg: dict, planned: int) -> Guard:
        return cls(
            planned,
            float(guard_cfg["max_sandbox_error_rate"]),
            float(guard_cfg["max_generation_failure_rate"]),
            float(guard_cfg.get("max_empty_answer_rate", 0.9)),
        )

    def answer(self, where: str, completion: str) -> None:
        """Count one new answer; stop the run when too many have empty message content."""
        self.answers += 1
        if not completion:  # null or "": whitespace is text the model wrote (a random model writes newlines)
            self.empty_answers.append(where)
        if self.answers >= min(EMPTY_MIN_ANSWERS, self.planned):
            self.check_empty()

    def check_empty(self) -> None:
        if self.answers and len(self.empty_answers) > self.max_empty_answer_rate * self.answers:
            first = ", ".join(self.empty_answers[:3])
            raise InfrastructureError(
                f"{len(self.empty_answers)} of {self.answers} answers have empty message content (first: {first}), "
                f"more than the guard's {self.max_empty_answer_rate:.0%} (guard.max_empty_answer_rate): the server "
                "sends no text: a wrong chat template, a reasoning parser moving the answer out of `content`, or "
                "the wrong model served. Stopped, nothing recorded in the history; check the server "
                "(its log, --served-model-name) and re-run"
            )

    def _budget(self, rate: float) -> int:
        return math.floor(rate * self.planned)

    def sandbox_error(self, where: str, detail: str) -> None:
        self.sandbox_errors.append(f"{where}: {detail}")
        log.warning("sandbox_error on %s: %s", where, detail)
        if len(self.sandbox_errors) > self._budget(self.max_sandbox_error_rate):
            raise InfrastructureError(
                self._message(
                    "sandbox",
                    self.sandbox_errors,
                    self.max_sandbox_error_rate,
                    "check the sandbox (coderl sandbox / SANDBOX=url) and re-run; finished results are cached",
                )
            )

    def generation_failure(self, where: str, detail: str) -> None:
        self.generation_failures.append(f"{where}: {detail}")
        log.warning("generation failure on %s: %s", where, detail)
        if len(self.generation_failures) > self._budget(self.max_generation_failure_rate):
            raise InfrastructureError(
                self._message(
                    "generation",
                    self.generation_failures,
                    self.max_generation_failure_rate,
                    "check the model server (logs, --vllm-url) and re-run; finished results are cached",
                )
            )

    def _message(self, what: str, errors: list[str], rate: float, todo: str) -> str:
        shown = "; ".join(errors[:3]) + (f"; ... ({len(errors) - 3} more)" if len(errors) > 3 else "")
        return (
            f"{len(errors)} {what} failure(s) out of {self.planned} planned problems exceed the guard's "
            f"{rate:.1%} budget; stopped, nothing recorded in the history. First: {shown}. {todo}"
        )
