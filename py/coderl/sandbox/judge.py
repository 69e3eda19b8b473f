"""Judges: run a problem's tests against a program and reach one Verdict.

Functional problems (HumanEval, MBPP): the program is coderl's harness (functional_harness.py),
which runs ``prompt + answer`` (HumanEval's concatenation) in a module that is not ``__main__``,
then the test code, then ``check(entry_point)`` when the test code defines ``check``. It counts
as accepted only when the tests ran to their end: the harness's last line raises an audit event,
and its audit hook, the only holder of a per-execution random token read from fd 0 before any
answer code ran, prints the token. Threat model and checks: docs/judging.md.

Stdio problems: each test runs the program with the test's input; the output is compared with
the selected rule (coderl.sandbox.compare).
"""

from __future__ import annotations

import ast
import builtins
import concurrent.futures as cf
import functools
import logging
import os
import re
import secrets
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..data.problem import Problem
from .compare import get_comparator
from .session import DirectSession
from .types import KILLED_FROM_OUTSIDE, RunResult, Verdict

log = logging.getLogger(__name__)


# Run status -> per-test verdict (ok is decided by the judge, not here).
_STATUS_TO_VERDICT = {
    "runtime_error": "runtime_error",
    "timeout": "timeout",
    "memory_exceeded": "memory_exceeded",
    "output_limit": "output_limit",
    "sandbox_error": "sandbox_error",
}

_HARNESS_FILE = Path(__file__).with_name("functional_harness.py")
_TOKEN_LEN = len("CODERL-DONE-") + 32 + 1  # with its newline


@functools.lru_cache(maxsize=1)
def _harness() -> str:
    src = _HARNESS_FILE.read_text(encoding="utf-8").replace("__TOKEN_LEN__", str(_TOKEN_LEN))
    lines = src.split("\n")
    done = next(i for i, ln in enumerate(lines, start=1) if ln.strip() == '_audit("coderl.done")')
    return src.replace("__DONE_LINE__", str(done))


_FUTURE = re.compile(r"^from __future__ import [^\n]*$", re.M)


def _lf(text: str) -> str:
    """One newline convention: a bare \r or \r\n (Windows answers, old files) becomes \n."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def code_prompt(problem: Problem) -> str | None:
    """The prompt when it is code that stubs the entry point (HumanEval), else None (MBPP: prose)."""
    ep = problem.entry_point
    if not ep or not re.search(rf"^def\s+{re.escape(ep)}\s*\(", problem.prompt, re.M):
        return None
    prompt = _lf(problem.prompt)
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return None
    return prompt if any(isinstance(n, ast.FunctionDef) and n.name == ep for n in tree.body) else None


def _top_level_names(tree: ast.Module | None) -> set[str]:
    names: set[str] = set()
    for n in tree.body if tree is not None else []:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, (ast.Assign, ast.AnnAssign)):
            for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                names.update(x.id for x in ast.walk(t) if isinstance(x, ast.Name))
    return names


def _parse(src: str) -> ast.Module | None:
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError):
        return None


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the test code binds anywhere (assignments, parameters, defs, imports)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            out.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in n.names)
    return out


class _TestRewriter(ast.NodeTransformer):
    """Tests call the problem's helpers (not the answer's copies), and what an answer's function
    returns inside an `assert` must be plain data (calls elsewhere, e.g. building a tree of the
    answer's Node class as test input, are left alone)."""

    def __init__(self, helpers: set[str], wrapped: set[str]) -> None:
        self.helpers, self.wrapped, self.in_assert = helpers, wrapped, 0

    def visit_Name(self, node: ast.Name):
        if isinstance(node.ctx, ast.Load) and node.id in self.helpers:
            return ast.copy_location(
                ast.Subscript(ast.Name("__coderl_problem", ast.Load()), ast.Constant(node.id), ast.Load()), node
            )
        return node

    def visit_Assert(self, node: ast.Assert):
        self.in_assert += 1
        try:
            return self.generic_visit(node)
        finally:
            self.in_assert -= 1

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if self.in_assert and isinstance(node.func, ast.Name) and node.func.id in self.wrapped:
            return ast.copy_location(ast.Call(ast.Name("__coderl_plain", ast.Load()), [node], []), node)
        return node


def _prepare_tests(
    tests: str, prompt: str | None, answer_tree: ast.Module | None, entry: str | None, call_check: bool
) -> tuple[str, list[str], list[str]]:
    """(rewritten tests, modules they import, builtin names they use that the answer may not rebind)."""
    tree = _parse(tests)
    if tree is None:
        return tests, [], []
    bound = _bound_names(tree)
    loads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    helpers = (_top_level_names(_parse(prompt)) - {entry}) if prompt is not None else set()
    # HumanEval: check() gets a wrapped candidate; MBPP: asserts call the answer's functions by name
    wrapped = set() if call_check else (_top_level_names(answer_tree) | ({entry} if entry else set()))
    builtin_names = set(dir(builtins))
    called = {
        n.func.id
        for a in ast.walk(tree)
        if isinstance(a, ast.Assert)
        for n in ast.walk(a)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    } - bound
    # a function under test named like a builtin (MBPP 126 tests `sum(a, b)`): the tests call only
    # builtin names, so those are the answer's to define
    own = called if not call_check and called and called <= builtin_names else set()
    tree = ast.fix_missing_locations(_TestRewriter((helpers & loads) - bound, wrapped - bound).visit(tree))
    modules = sorted(
        {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level}
        - {"sys", "builtins"}
    )
    used_builtins = sorted((loads - bound - own) & builtin_names)
    return ast.unparse(tree) + "\n", modules, used_builtins


def build_functional_program(problem: Problem, code: str) -> tuple[str, str]:
    """(program, stdin) for a functional problem; the stdin carries the token the harness prints.

    The program is coderl's harness (functional_harness.py) called with the sources as literals:
    it runs `prompt + answer` (HumanEval's concatenation; the answer alone for MBPP) in a module
    that is not __main__, then the tests, then check(entry_point) when the tests define check.
    """
    prompt = code_prompt(problem)
    answer = (prompt or "") + _lf(code)
    # `from __future__` imports must open the source they are compiled with
    future = "".join(m.group(0) + "\n" for m in _FUTURE.finditer(answer))
    answer = future + _FUTURE.sub("", answer) if future else answer
    tests = _lf(problem.test_code or "")
    call_check = bool(problem.entry_point and re.search(r"^def\s+check\s*\(", tests, re.M))
    tests, modules, used = _prepare_tests(tests, prompt, _parse(answer), problem.entry_point, call_check)
    call = (
        f"__coderl_main({prompt!r}, {answer!r}, {tests!r}, {problem.entry_point!r}, {call_check!r}, "
        f"{modules!r}, {used!r})\n"
    )
    token = "CODERL-DONE-" + secrets.token_hex(16)
    return _harness() + call, token + "\n"


def _functional_outcome(run: RunResult, token: str) -> tuple[str, str]:
    # the harness could not run (it proves it is the harness by the token, which the answer never sees)
    proof = f"CODERL-HARNESS-ERROR {token} "
    if proof in run.stderr:
        return "sandbox_error", run.stderr[run.stderr.index(proof) + len(proof) :].strip()[:300]
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


def judge_problem(
    problem: Problem, code: str | None, executor, *, compare: str = "codecontests", stop_at_first_failure: bool = True
) -> Verdict:
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
        return Verdict(
            problem.id,
            "accepted" if ok else outcome,
            int(ok),
            1,
            None if ok else 0,
            time.monotonic() - t0,
            [outcome],
            detail,
        )
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
            return RunResult(
                "timeout",
                r.exit_code,
                r.stdout,
                r.stderr,
                r.wall_s,
                r.cpu_s,
                f"CPU time {r.cpu_s:.1f} s passed the {base:g} s limit",
            )
        return r

    def run(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult:
        return self.note(
            self._ex.run(code, stdin=stdin, timeout_s=self.wall(timeout_s), memory_mb=memory_mb), timeout_s
        )

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

    def __init__(
        self,
        executor,
        workers: int = 0,
        *,
        compare: str = "codecontests",
        stop_at_first_failure: bool = True,
        rerun_alone: bool = True,
    ) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.executor = executor
        self.compare = compare
        self.stop_at_first_failure = stop_at_first_failure
        get_comparator(compare)  # fail now on a bad rule, not inside a worker
        self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="judge")
        self._closed = threading.Event()
        self.rerun_alone = rerun_alone
        self._gate = AloneGate()

    def submit(self, problem: Problem, code: str | None) -> cf.Future[Verdict]:
        kw = {"compare": self.compare, "stop_at_first_failure": self.stop_at_first_failure}
        if self.rerun_alone:
            return self._pool.submit(judge_rerunning_alone, problem, code, self.executor, self._gate, **kw)
        return self._pool.submit(judge_problem, problem, code, self.executor, **kw)

    def close(self, wait: bool = True) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> JudgePool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
