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
# A time-out whose program got less CPU than this share of its wall time was starved by the machine
# (a program that is slow by itself keeps a core busy: CPU ~ wall).
STARVED_CPU_SHARE = 0.5
# The re-run of a starved time-out gets this many times the wall limit, and is judged by CPU time:
# a run whose CPU time stays within the original limit is not a time-out (the machine's load
# lengthens wall time, not CPU time). Only where the executor measures CPU time (the local one).
RERUN_WALL_FACTOR = 3.0


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


class _CpuJudged:
    """The executor (and its sessions) as the judge sees it, noting every run's outcome; with a wall
    factor, each run gets factor x its wall limit and is a time-out only when its CPU time passed the
    original limit (or the longer wall limit was reached)."""

    def __init__(self, executor, wall_factor: float = 1.0) -> None:
        self._ex = executor
        self.limit = getattr(getattr(executor, "defaults", None), "timeout_s", None)  # the local executor's
        self.factor = wall_factor if self.limit else 1.0
        self.starved_timeouts = 0

    def __getattr__(self, name):
        return getattr(self._ex, name)

    def wall(self, timeout_s: float | None) -> float | None:
        return timeout_s if self.factor == 1.0 else (timeout_s or self.limit) * self.factor

    def note(self, r: RunResult, timeout_s: float | None) -> RunResult:
        base = timeout_s or self.limit
        if r.status == "timeout" and (self.limit is None or r.cpu_s < STARVED_CPU_SHARE * r.wall_s):
            self.starved_timeouts += 1  # without CPU accounting every time-out may be the machine's
        if self.factor != 1.0 and r.status == "ok" and r.cpu_s > base:
            return RunResult("timeout", r.exit_code, r.stdout, r.stderr, r.wall_s, r.cpu_s,
                             f"CPU time {r.cpu_s:.1f} s passed the {base:g} s limit")
        return r

    def run(self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        return self.note(self._ex.run(code, stdin=stdin, timeout_s=self.wall(timeout_s), memory_mb=memory_mb), timeout_s)

    def session(self, code: str):
        opener = getattr(self._ex, "session", None)
        return _CpuJudgedSession(self, opener(code)) if opener else DirectSession(self, code)


class _CpuJudgedSession:
    def __init__(self, outer: _CpuJudged, inner) -> None:
        self.outer, self.inner = outer, inner

    def run(self, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        r = self.inner.run(stdin, timeout_s=self.outer.wall(timeout_s), memory_mb=memory_mb)
        return self.outer.note(r, timeout_s)

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.inner.__exit__(*exc)


def judge_rerunning_alone(problem: Problem, code: str | None, executor, gate: AloneGate, **kw) -> Verdict:
    """judge_problem; a sandbox_error, or a time-out that the machine starved of CPU, is judged again
    alone once (a time-out by CPU time, with RERUN_WALL_FACTOR x the wall limit), and the re-run counts.

    A time-out that kept a core busy is the program's and is not re-run. A program SIGKILLed from
    outside again when alone killed itself: its runtime_error.
    """
    seen = _CpuJudged(executor)
    with gate.shared():
        first = judge_problem(problem, code, seen, **kw)
    if first.verdict not in LOAD_SENSITIVE or (first.verdict == "timeout" and not seen.starved_timeouts):
        return first
    with gate.alone():
        again = judge_problem(problem, code, _CpuJudged(executor, RERUN_WALL_FACTOR), **kw)
    if again.verdict == "sandbox_error" and KILLED_FROM_OUTSIDE in again.detail:
        again.verdict = "runtime_error"
    again.detail = f"re-run alone after {first.verdict} ({first.detail[:120]}): {again.detail}"[:400]
    again.wall_s += first.wall_s
    log.info("%s: %s re-run alone -> %s", problem.id, first.verdict, again.verdict)
    return again


class JudgePool:
    """Judge many problems concurrently; each worker runs one problem's tests in turn.

    workers=0 means one per CPU core. submit() returns a Future[Verdict] so callers can overlap
    generation with execution. With rerun_alone (the default) a sandbox_error or a starved time-out
    is judged again alone before it counts (judge_rerunning_alone).
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
