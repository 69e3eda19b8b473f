"""Records of one execution (RunResult) and of one judged problem (Verdict)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

RUN_STATUSES = ("ok", "runtime_error", "timeout", "memory_exceeded", "output_limit", "sandbox_error")
VERDICTS = (
    "accepted",
    "wrong_answer",
    "runtime_error",
    "timeout",
    "memory_exceeded",
    "output_limit",
    "sandbox_error",
    "no_code",
)


# RunResult.message of a program SIGKILLed from outside (the host's OOM killer, an operator) before it
# reached its CPU-time or wall-clock limit: an infrastructure failure (sandbox_error), not the
# program's runtime error. The judge re-runs it alone once; killed again, it is the program's own doing.
KILLED_FROM_OUTSIDE = "killed by SIGKILL before reaching its time limits"


@dataclass
class RunResult:
    """One execution. `sandbox_error` means the infrastructure failed, never the program."""

    status: str
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""  # the tail only (tracebacks end there), capped
    wall_s: float = 0.0
    cpu_s: float = 0.0
    message: str = ""  # why, for sandbox_error / output_limit / timeout

    def __post_init__(self) -> None:
        if self.status not in RUN_STATUSES:
            raise ValueError(f"RunResult.status must be one of {RUN_STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Verdict:
    """The judgement of one problem. tests_* count executions that were compared (see docs/judging.md)."""

    id: str
    verdict: str
    tests_passed: int = 0
    tests_total: int = 0
    first_failed_test: int | None = None  # 0-based index into the problem's tests
    wall_s: float = 0.0
    test_statuses: list[str] = field(default_factory=list)  # per test run: passed | <verdict>
    detail: str = ""  # short reason for a failure

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"Verdict.verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def accepted(self) -> bool:
        return self.verdict == "accepted"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
