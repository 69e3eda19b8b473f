"""Judges: run a problem's tests against a program and reach one Verdict.

Functional problems (HumanEval, MBPP): the program is the extracted code, then the test code,
then ``check(entry_point)`` when the test code defines ``check`` (HumanEval). A program counts as
accepted only when the tests ran to their end: a guard prints a per-execution random token after
the last test, and the token is handed to the program on stdin (not in its source, argv or
environment) and kept in a closure. ``exit(0)``, ``sys.exit(0)``, ``raise SystemExit``,
``os._exit(0)``, killing the parent, and printing a fake marker all end without the token.

Stdio problems: each test runs the program with the test's input; the output is compared with
the selected rule (coderl.sandbox.compare).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager

from ..data.problem import Problem
from .compare import get_comparator
from .session import DirectSession
from .types import KILLED_FROM_OUTSIDE, RunResult, Verdict

log = logging.getLogger(__name__)

# Run status -> per-test verdict (ok is decided by the judge, not here).
_STATUS_TO_VERDICT = {
    "runtime_error": "runtime_error", "timeout": "timeout", "memory_exceeded": "memory_exceeded",
    "output_limit": "output_limit", "sandbox_error": "sandbox_error",
}

_GUARD_HEAD = '''\
def __coderl_guard():
    import os as _os, sys as _sys
    _module = _sys._getframe(1).f_code
    _tok = _sys.stdin.readline().strip()
    _sys.stdin = open(_os.devnull)
    def _done():
        # Only a call from the last line of THIS module's code counts: code compiled elsewhere
        # (exec of a padded string, a function built from such code and run by atexit or a
        # finalizer) is another code object, whatever its name, file and line.
        _f = _sys._getframe(1)
        if _f.f_code is not _module or _f.f_lineno != {last_line}:
            return
        try:
            _sys.stdout.flush()
        except Exception:
            pass
        _os.write(1, ("\\n" + _tok + "\\n").encode())
    return _done
__coderl_done = __coderl_guard()
del __coderl_guard
'''


_FUTURE = re.compile(r"^from __future__ import [^\n]*$", re.M)


def build_functional_program(problem: Problem, code: str) -> tuple[str, str]:
    """(program, stdin) for a functional problem; the stdin carries the token the guard prints."""
    tests = problem.test_code or ""
    parts = [code, "", tests]
    if problem.entry_point and re.search(r"^def\s+check\s*\(", tests, re.M):
        parts.append(f"check({problem.entry_point})")
    body = "\n".join(parts) + "\n"
    # `from __future__` imports must open the file, so they go above the guard.
    future = "".join(m.group(0) + "\n" for m in _FUTURE.finditer(body))
    body = _FUTURE.sub("", body)
    last_line = (future + _GUARD_HEAD + body).count("\n") + 1
    program = future + _GUARD_HEAD.format(last_line=last_line) + body + "__coderl_done()\n"
    token = "CODERL-DONE-" + secrets.token_hex(16)
    return program, token + "\n"


def _functional_outcome(run: RunResult, token: str) -> tuple[str, str]:
    if run.status != "ok":
        if run.status == "runtime_error" and _last_exception(run.stderr).startswith("AssertionError"):
            return "wrong_answer", "an assertion failed"
        return _STATUS_TO_VERDICT[run.status], (run.message or _last_exception(run.stderr))[:300]
    lines = run.stdout.rstrip("\n").split("\n")
    if lines and lines[-1] == token:
        return "passed", ""
    return "runtime_error", "the program exited before all tests ran (exit code 0 without the completion token)"


def _last_exception(stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def judge_problem(problem: Problem, code: str | None, executor, *, compare: str = "codecontests",
                  stop_at_first_failure: bool = True) -> Verdict:
    """Judge one completion. `code` None (nothing extracted) is `no_code` without running anything."""
    t0 = time.monotonic()
    if code is None or not code.strip():
        total = 1 if problem.kind == "functional" else len(problem.tests or [])
        return Verdict(problem.id, "no_code", 0, total, None, 0.0, [], "no code was extracted")
    if problem.kind == "functional":
        program, stdin = build_functional_program(problem, code)
        run = executor.run(program, stdin=stdin)
        outcome, detail = _functional_outcome(run, stdin.strip())
        ok = outcome == "passed"
        return Verdict(problem.id, "accepted" if ok else outcome, int(ok), 1, None if ok else 0,
                       time.monotonic() - t0, [outcome], detail)
    return _judge_stdio(problem, code, executor, get_comparator(compare), stop_at_first_failure, t0)


def _judge_stdio(problem: Problem, code: str, executor, same, stop_first: bool, t0: float) -> Verdict:
    tests = problem.tests or []
    statuses: list[str] = []
    passed = 0
    first_fail: int | None = None
    first_verdict = "accepted"
    detail = ""
    opener = getattr(executor, "session", None)
    with opener(code) if opener else DirectSession(executor, code) as runner:
        for i, t in enumerate(tests):
            outcome, run = _run_one(runner, t, same)
            statuses.append(outcome)
            if outcome == "passed":
                passed += 1
                continue
            if first_fail is None:
                first_fail, first_verdict = i, outcome
                detail = (run.message or _last_exception(run.stderr) or "output differs")[:300]
            if stop_first or outcome == "sandbox_error":
                break
    verdict = "sandbox_error" if "sandbox_error" in statuses else first_verdict
    return Verdict(problem.id, verdict, passed, len(tests), first_fail, time.monotonic() - t0, statuses, detail)


def _run_one(runner, test: dict, same) -> tuple[str, RunResult]:
    run = runner.run(test["input"])
    if run.status == "ok":
        return ("passed" if same(run.stdout, test["output"]) else "wrong_answer"), run
    return _STATUS_TO_VERDICT[run.status], run


# Verdicts the machine can cause (a loaded host slows a program past its limit, the OOM killer
# SIGKILLs it, a sandbox fails to start): re-run once, alone, before they count.
LOAD_SENSITIVE = ("timeout", "sandbox_error")


class AloneGate:
    """Judgements share the gate; a re-run takes it alone (it waits for the running ones to end and
    holds new ones back), so the re-run's timing is not the load's."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._waiting_alone = 0
        self._alone = False

    @contextmanager
    def shared(self):
        with self._cond:
            self._cond.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    @contextmanager
    def alone(self):
        with self._cond:
            self._waiting_alone += 1
            self._cond.wait_for(lambda: not self._alone and self._active == 0)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def judge_rerunning_alone(problem: Problem, code: str | None, executor, gate: AloneGate, **kw) -> Verdict:
    """judge_problem; a timeout or sandbox_error is judged again alone once, and the re-run counts.

    A program SIGKILLed from outside again when alone killed itself: its runtime_error.
    """
    with gate.shared():
        first = judge_problem(problem, code, executor, **kw)
    if first.verdict not in LOAD_SENSITIVE:
        return first
    with gate.alone():
        again = judge_problem(problem, code, executor, **kw)
    if again.verdict == "sandbox_error" and KILLED_FROM_OUTSIDE in again.detail:
        again.verdict = "runtime_error"
    again.detail = f"re-run alone after {first.verdict} ({first.detail[:120]}): {again.detail}"[:400]
    again.wall_s += first.wall_s
    log.info("%s: %s re-run alone -> %s", problem.id, first.verdict, again.verdict)
    return again


class JudgePool:
    """Judge many problems concurrently; each worker runs one problem's tests in turn.

    workers=0 means one per CPU core. submit() returns a Future[Verdict] so callers can overlap
    generation with execution. With rerun_alone (the default) a timeout or sandbox_error is judged
    again alone before it counts (judge_rerunning_alone).
    """

    def __init__(self, executor, workers: int = 0, *, compare: str = "codecontests",
                 stop_at_first_failure: bool = True, rerun_alone: bool = True) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.executor = executor
        self.compare = compare
        self.stop_at_first_failure = stop_at_first_failure
        get_comparator(compare)  # fail now on a bad rule, not inside a worker
        self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="judge")
        self._closed = threading.Event()
        self.rerun_alone = rerun_alone
        self._gate = AloneGate()

    def submit(self, problem: Problem, code: str | None) -> "cf.Future[Verdict]":
        kw = {"compare": self.compare, "stop_at_first_failure": self.stop_at_first_failure}
        if self.rerun_alone:
            return self._pool.submit(judge_rerunning_alone, problem, code, self.executor, self._gate, **kw)
        return self._pool.submit(judge_problem, problem, code, self.executor, **kw)

    def close(self, wait: bool = True) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
