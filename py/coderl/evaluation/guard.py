"""The infrastructure guard: sandbox and server failures stop a run instead of becoming scores.

Before the run the executor (and the backend, if it can tell) must report healthy. During the
run, each kind of failure has a budget: `max_*_rate` of the problems planned. The first failure
beyond the budget stops the run with InfrastructureError naming what failed; nothing is recorded
in the history, and the caches keep every good result for a resumed run.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from ..errors import InfrastructureError

log = logging.getLogger(__name__)


def check_health(executor, backend=None) -> None:
    ok, msg = executor.health()
    if not ok:
        raise InfrastructureError(f"sandbox not healthy before the run: {msg}; fix the sandbox (make sandbox / --sandbox) and re-run")
    health = getattr(backend, "health", None)
    if callable(health):
        ok, msg = health()
        if not ok:
            raise InfrastructureError(f"generation backend not healthy before the run: {msg}")


@dataclass
class Guard:
    planned: int                       # problems this run will generate/judge
    max_sandbox_error_rate: float
    max_generation_failure_rate: float
    sandbox_errors: list[str] = field(default_factory=list)
    generation_failures: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, guard_cfg: dict, planned: int) -> "Guard":
        return cls(planned, float(guard_cfg["max_sandbox_error_rate"]), float(guard_cfg["max_generation_failure_rate"]))

    def _budget(self, rate: float) -> int:
        return math.floor(rate * self.planned)

    def sandbox_error(self, where: str, detail: str) -> None:
        self.sandbox_errors.append(f"{where}: {detail}")
        log.warning("sandbox_error on %s: %s", where, detail)
        if len(self.sandbox_errors) > self._budget(self.max_sandbox_error_rate):
            raise InfrastructureError(self._message("sandbox", self.sandbox_errors, self.max_sandbox_error_rate,
                                                    "check the sandbox (coderl sandbox / SANDBOX=url) and re-run; finished results are cached"))

    def generation_failure(self, where: str, detail: str) -> None:
        self.generation_failures.append(f"{where}: {detail}")
        log.warning("generation failure on %s: %s", where, detail)
        if len(self.generation_failures) > self._budget(self.max_generation_failure_rate):
            raise InfrastructureError(self._message("generation", self.generation_failures, self.max_generation_failure_rate,
                                                    "check the model server (logs, --vllm-url) and re-run; finished results are cached"))

    def _message(self, what: str, errors: list[str], rate: float, todo: str) -> str:
        shown = "; ".join(errors[:3]) + (f"; ... ({len(errors) - 3} more)" if len(errors) > 3 else "")
        return (f"{len(errors)} {what} failure(s) out of {self.planned} planned problems exceed the guard's "
                f"{rate:.1%} budget; stopped, nothing recorded in the history. First: {shown}. {todo}")
