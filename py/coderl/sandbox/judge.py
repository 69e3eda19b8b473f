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
from pathlib import Path

from ..data.problem import Problem
from .compare import get_comparator
from .session import DirectSession
from .types import RunResult, Verdict

log = logging.getLogger(__name__)

# Run status -> per-test verdict (ok is decided by the judge, not here).
_STATUS_TO_VERDICT = {
    "runtime_error": "runtime_error", "timeout": "timeout", "memory_exceeded": "memory_exceeded",
    "output_limit": "output_limit", "sandbox_error": "sandbox_error",
}

_HARNESS_FILE = Path(__file__).with_name("functional_harness.py")
_TOKEN_LEN = len("CODERL-DONE-") + 32 + 1   # with its newline


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
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]):
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
            return ast.copy_location(ast.Subscript(ast.Name("__coderl_problem", ast.Load()), ast.Constant(node.id),
                                                   ast.Load()), node)
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


def _prepare_tests(tests: str, prompt: str | None, answer_tree: ast.Module | None, entry: str | None,
                   call_check: bool) -> tuple[str, list[str], list[str]]:
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
    called = {n.func.id for a in ast.walk(tree) if isinstance(a, ast.Assert) for n in ast.walk(a)
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)} - bound
    # a function under test named like a builtin (MBPP 126 tests `sum(a, b)`): the tests call only
    # builtin names, so those are the answer's to define
    own = called if not call_check and called and called <= builtin_names else set()
    tree = ast.fix_missing_locations(_TestRewriter((helpers & loads) - bound, wrapped - bound).visit(tree))
    modules = sorted({a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
                     | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                        and n.module and not n.level} - {"sys", "builtins"})
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
    call = (f"__coderl_main({prompt!r}, {answer!r}, {tests!r}, {problem.entry_point!r}, {call_check!r}, "
            f"{modules!r}, {used!r})\n")
    token = "CODERL-DONE-" + secrets.token_hex(16)
    return _harness() + call, token + "\n"


def _functional_outcome(run: RunResult, token: str) -> tuple[str, str]:
    # the harness could not run (it proves it is the harness by the token, which the answer never sees)
    proof = f"CODERL-HARNESS-ERROR {token} "
    if proof in run.stderr:
        return "sandbox_error", run.stderr[run.stderr.index(proof) + len(proof):].strip()[:300]
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


class JudgePool:
    """Judge many problems concurrently; each worker runs one problem's tests in turn.

    workers=0 means one per CPU core. submit() returns a Future[Verdict] so callers can overlap
    generation with execution.
    """

    def __init__(self, executor, workers: int = 0, *, compare: str = "codecontests",
                 stop_at_first_failure: bool = True) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.executor = executor
        self.compare = compare
        self.stop_at_first_failure = stop_at_first_failure
        get_comparator(compare)  # fail now on a bad rule, not inside a worker
        self._pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="judge")
        self._closed = threading.Event()

    def submit(self, problem: Problem, code: str | None) -> "cf.Future[Verdict]":
        return self._pool.submit(judge_problem, problem, code, self.executor, compare=self.compare,
                                 stop_at_first_failure=self.stop_at_first_failure)

    def close(self, wait: bool = True) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._pool.shutdown(wait=wait, cancel_futures=not wait)

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
