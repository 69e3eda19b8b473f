"""Judges: comparison rules, the functional guard against early exits, stdio verdicts, the pool, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coderl.data.problem import Problem
from coderl.errors import ConfigError
from coderl.sandbox.compare import compare_codecontests, compare_exact, compare_line, get_comparator
from coderl.sandbox.judge import JudgePool, build_functional_program, judge_problem
from coderl.sandbox.local import LocalExecutor

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ex() -> LocalExecutor:
    return LocalExecutor(timeout_s=3.0, memory_mb=512, output_bytes=1 << 20)


def functional(test_code: str, entry_point: str | None = None) -> Problem:
    return Problem(id="f1", dataset="t", kind="functional", prompt="p", entry_point=entry_point, test_code=test_code)


HE_TESTS = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n"
ADD = Problem(
    id="add",
    dataset="t",
    kind="stdio",
    prompt="p",
    tests=[{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}, {"input": "0 0", "output": "0"}],
)

# --- comparison rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "got,want,cc,line,exact",
    [
        ("3\n", "3\n", True, True, True),
        ("3", "3\n", True, True, False),  # missing final newline
        ("1 2  3\n\n", "1 2 3\n", True, False, False),  # spacing inside a line
        ("1\n2\n", "1 2\n", True, False, False),  # line breaks differ: tokens equal
        ("a  \nb\n\n\n", "a\nb\n", True, True, False),  # trailing spaces / blank lines
        ("0.333333", "0.3333333333", True, False, False),  # within 1e-5
        ("0.3333", "0.3333333333", False, False, False),  # 3.3e-5 off
        ("1e-7", "0", True, False, False),
        ("YES", "Yes", True, False, False),  # letter case ignored (DeepMind lower-cases tokens)
        ("YES", "NO", False, False, False),
        ("0.00001", "0", False, False, False),  # the tolerance is strict: |a-b| < 1e-5
        ("nan", "nan", True, True, True),
        ("inf", "1e400", False, False, False),  # not plain numbers on one side: strings
        ("1 2", "1 2 3", False, False, False),
        ("", "", True, True, True),
        # integers compare exactly, at any size (as floats these three pairs were equal)
        ("1000000000000000001", "1000000000000000000", False, False, False),  # 10^18 + 1
        ("9007199254740993", "9007199254740992", False, False, False),  # 2^53 + 1
        ("123456789012345678901234567890", "123456789012345678901234567891", False, False, False),
        ("-1000000000000000001", "-1000000000000000001", True, True, True),
        ("007", "7", True, False, False),  # same integer
        ("-0", "0", True, False, False),
        ("+5", "5", True, False, False),
        ("1" * 5000, "1" * 4999 + "2", False, False, False),  # beyond int()'s 4300-digit limit
        # one side not an integer literal: the 1e-5 tolerance, as before
        ("3", "3.000001", True, False, False),
        ("1000000000000000001", "1e18", True, False, False),
        ("2.5", "2.50000001", True, False, False),
    ],
)
def test_compare_rules(got, want, cc, line, exact):
    assert compare_codecontests(got, want) is cc
    assert compare_line(got, want) is line
    assert compare_exact(got, want) is exact


def test_unknown_compare_rule_is_a_config_error():
    with pytest.raises(ConfigError, match="codecontests"):
        get_comparator("fuzzy")


# --- functional judge ---------------------------------------------------------------------------


def test_functional_accepts_correct_and_rejects_wrong(ex):
    p = functional(HE_TESTS, "sq")
    assert judge_problem(p, "def sq(x):\n    return x * x\n", ex).verdict == "accepted"
    v = judge_problem(p, "def sq(x):\n    return x + x\n", ex)  # right for 2, wrong for 3
    assert v.verdict == "wrong_answer" and v.first_failed_test == 0 and v.tests_passed == 0


EARLY_EXITS = {
    "sys.exit(0)": "import sys\nsys.exit(0)\ndef sq(x): return x*x",
    "exit(0)": "def sq(x): return x*x\nexit(0)",
    "quit()": "def sq(x): return x*x\nquit()",
    "raise SystemExit": "def sq(x): return x*x\nraise SystemExit(0)",
    "os._exit(0)": "import os\ndef sq(x): return x*x\nos._exit(0)",
    "exit inside the function": "import sys\ndef sq(x):\n    sys.exit(0)",
    "os._exit inside the function": "import os\ndef sq(x):\n    os._exit(0)",
    "kill the parent": "import os, signal\ndef sq(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    os._exit(0)",
    "kill itself": "import os, signal\ndef sq(x):\n    os.kill(os.getpid(), signal.SIGKILL)",
    "fake marker then exit": "print('CODERL-DONE-' + '0'*32)\nprint('OK')\nimport os\nos._exit(0)",
    "exit from a thread": "import os, threading\ndef sq(x): return x*x\nthreading.Thread(target=os._exit, args=(0,)).start()\nimport time; time.sleep(1)",
    "atexit swallows the failure": "import atexit, os\natexit.register(lambda: os._exit(0))\ndef sq(x): return 0",
    "excepthook exits 0": "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\ndef sq(x): return 0",
    "close stdout": "import os\ndef sq(x): return x*x\nos.close(1)",
    "call the guard itself": "import os\ndef sq(x):\n    __coderl_done()\n    os._exit(0)",
    "read the token from stdin": "import sys, os\ntok = sys.stdin.readline()\nprint(tok)\nos._exit(0)",
    # code compiled to look like the module's last line, called with no Python caller (atexit)
    "forged last line run by atexit": (
        "import atexit, sys, types\ndef sq(x): return 0\nn = open(__file__).read().count('\\n')\n"
        "atexit.register(types.FunctionType(compile('\\n' * (n - 1) + '__coderl_done()', __file__, 'exec'), globals()))\n"
        "sys.exit(0)"
    ),
    "forged last line run by exec": (
        "import os\ndef sq(x): return 0\nn = open(__file__).read().count('\\n')\n"
        "exec(compile('\\n' * (n - 1) + '__coderl_done()', __file__, 'exec'))\nos._exit(0)"
    ),
}


@pytest.mark.parametrize("trick", sorted(EARLY_EXITS))
def test_functional_rejects_early_exit_tricks(ex, trick):
    v = judge_problem(functional(HE_TESTS, "sq"), EARLY_EXITS[trick], ex)
    assert v.verdict != "accepted", f"{trick} was accepted"


def test_functional_mbpp_style_without_check_and_future_import(ex):
    p = functional("assert sq(3) == 9\nassert sq(4) == 16")
    code = "from __future__ import annotations\ndef sq(x: int) -> int:\n    return x * x\n"
    assert judge_problem(p, code, ex).verdict == "accepted"
    prog, stdin = build_functional_program(p, code)
    # the answer's source (a literal on the harness's last line) opens with its __future__ import
    assert "None, 'from __future__ import annotations\\n" in prog and stdin.strip() not in prog


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_functional_newlines_are_normalised(ex, newline):
    # a bare \r used to break the guard's line accounting (a correct program was rejected)
    p = functional(HE_TESTS, "sq")
    code = "import math\n\ndef sq(x):\n    y = x * x\n    return y\n".replace("\n", newline)
    assert judge_problem(p, code, ex).verdict == "accepted"
    assert judge_problem(functional("assert sq(3) == 9\n".replace("\n", newline)), code, ex).verdict == "accepted"


def test_functional_answer_not_run_as_main(ex):
    # HumanEval's harness execs the program: an `if __name__ == "__main__":` demo never runs
    code = "def sq(x):\n    return x * x\n\nif __name__ == '__main__':\n    print(sq(int(input())))\n"
    assert judge_problem(functional(HE_TESTS, "sq"), code, ex).verdict == "accepted"
    assert judge_problem(functional("assert sq(3) == 9"), code, ex).verdict == "accepted"


def test_functional_prompt_helpers_are_available_and_the_answer_wins(ex):
    # HumanEval/10 style: the prompt defines a helper, the answer repeats only the asked function
    prompt = (
        "def is_pal(s: str) -> bool:\n    return s == s[::-1]\n\n\n"
        'def longest_pal_prefix(s: str) -> str:\n    """the longest palindromic prefix"""\n'
    )
    tests = "def check(candidate):\n    assert candidate('abac') == 'aba'\n    assert candidate('x') == 'x'\n"
    p = Problem(
        id="h", dataset="t", kind="functional", prompt=prompt, entry_point="longest_pal_prefix", test_code=tests
    )
    only = (
        "def longest_pal_prefix(s: str) -> str:\n"
        "    return next(s[:i] for i in range(len(s), 0, -1) if is_pal(s[:i]))\n"
    )
    assert judge_problem(p, only, ex).verdict == "accepted"
    # the answer's own definition of a helper wins for the answer's code
    own = "def is_pal(s):\n    return len(s) == 1\n\n" + only
    assert judge_problem(p, own, ex).verdict == "wrong_answer"


def test_functional_stdlib_imports_work_in_a_fresh_interpreter():
    # a fresh sandbox has not imported `types`, whose import reads a traceback's frame (refused to
    # answers): the harness imports it first (HumanEval/91's `import re` was rejected)
    fresh = LocalExecutor(timeout_s=10.0, memory_mb=512, output_bytes=1 << 20, pooled=False)
    code = (
        "import re, inspect, typing, dataclasses, logging, collections, enum, functools\n"
        "from collections import namedtuple\nP = namedtuple('P', 'a b')\n"
        "logging.getLogger('x').warning('hello')\n"
        "def sq(x):\n    return P(x, x).a * x\n"
    )
    v = judge_problem(functional(HE_TESTS, "sq"), code, fresh)
    assert v.verdict == "accepted", v


class OldPythonExecutor:
    """Runs the program under a Python whose sys module has no audit hooks (as Python 3.7's)."""

    isolation_level = "test"

    def __init__(self, ex):
        self.ex = ex

    def run(self, code, stdin="", timeout_s=None, memory_mb=None):
        return self.ex.run("import sys\ndel sys.addaudithook\n" + code, stdin=stdin)


def test_functional_harness_failure_is_a_sandbox_error_not_the_models(ex):
    v = judge_problem(functional(HE_TESTS, "sq"), "def sq(x):\n    return x * x\n", OldPythonExecutor(ex))
    assert v.verdict == "sandbox_error" and "audit hooks" in v.detail, v
    # an answer cannot claim it: it never knows the token
    fake = "import sys\nprint('CODERL-HARNESS-ERROR CODERL-DONE-x the sandbox', file=sys.stderr)\nsys.exit(3)\n"
    assert judge_problem(functional(HE_TESTS, "sq"), fake, ex).verdict == "runtime_error"


def test_functional_statuses_map_to_verdicts(ex):
    p = functional("assert f() == 1")
    assert judge_problem(p, "def f():\n    while True: pass", ex).verdict == "timeout"
    assert judge_problem(p, "def f():\n    return len(bytearray(4 * 1024 ** 3))", ex).verdict == "memory_exceeded"
    assert judge_problem(p, "def f():\n    return 1/0", ex).verdict == "runtime_error"
    assert judge_problem(p, "def f(:", ex).verdict == "runtime_error"  # syntax error
    v = judge_problem(p, None, ex)
    assert v.verdict == "no_code" and v.tests_total == 1 and v.test_statuses == []


# --- stdio judge ---------------------------------------------------------------------------------


def test_stdio_accepts_and_counts(ex):
    v = judge_problem(ADD, "a, b = map(int, input().split())\nprint(a + b)", ex)
    assert (v.verdict, v.tests_passed, v.tests_total, v.first_failed_test) == ("accepted", 3, 3, None)


def test_stdio_stops_at_first_failure_unless_all_tests(ex):
    wrong_on_second = "a, b = map(int, input().split())\nprint(a + b if a != 5 else 11)"
    v = judge_problem(ADD, wrong_on_second, ex)
    assert (v.verdict, v.tests_passed, v.first_failed_test, v.test_statuses) == (
        "wrong_answer",
        1,
        1,
        ["passed", "wrong_answer"],
    )
    v = judge_problem(ADD, wrong_on_second, ex, stop_at_first_failure=False)
    assert (v.verdict, v.tests_passed, v.first_failed_test) == ("wrong_answer", 2, 1)
    assert v.test_statuses == ["passed", "wrong_answer", "passed"]


def test_stdio_compare_rule_is_selectable(ex):
    p = Problem(id="s", dataset="t", kind="stdio", prompt="p", tests=[{"input": "", "output": "1 2\n"}])
    code = "print(1)\nprint(2)"
    assert judge_problem(p, code, ex, compare="codecontests").verdict == "accepted"
    assert judge_problem(p, code, ex, compare="line").verdict == "wrong_answer"


def test_stdio_large_input_and_output(ex):
    n = 200_000
    p = Problem(
        id="big",
        dataset="t",
        kind="stdio",
        prompt="p",
        tests=[{"input": "\n".join(map(str, range(n))) + "\n", "output": str(sum(range(n)) * 2)}],
    )
    assert judge_problem(p, "import sys\nprint(2 * sum(map(int, sys.stdin.read().split())))", ex).verdict == "accepted"
    echo = Problem(
        id="echo", dataset="t", kind="stdio", prompt="p", tests=[{"input": "x" * 500_000, "output": "x" * 500_000}]
    )
    assert judge_problem(echo, "import sys\nsys.stdout.write(sys.stdin.read())", ex).verdict == "accepted"


class BrokenExecutor:
    """An infrastructure that fails: its verdicts must say sandbox_error, never a model failure."""

    isolation_level = "broken"

    def run(self, code, stdin="", timeout_s=None, memory_mb=None):
        from coderl.sandbox.types import RunResult

        return RunResult("sandbox_error", message="backend down")


def test_sandbox_errors_are_never_model_failures():
    v = judge_problem(ADD, "print(3)", BrokenExecutor(), stop_at_first_failure=False)
    assert v.verdict == "sandbox_error" and v.test_statuses == ["sandbox_error"]
    assert (
        judge_problem(functional(HE_TESTS, "sq"), "def sq(x): return x*x", BrokenExecutor()).verdict == "sandbox_error"
    )


class TimedExecutor:
    """The real executor, recording each run's wall interval (and optionally shortening the first
    run's time limit, as a loaded machine would make a program overrun it)."""

    def __init__(self, executor, first_timeout_s: float | None = None):
        self.executor, self.first_timeout_s = executor, first_timeout_s
        self.intervals: list[tuple[float, float, str]] = []
        self._lock = threading.Lock()

    def run(self, code, stdin="", timeout_s=None, memory_mb=None):
        with self._lock:
            if self.first_timeout_s is not None:
                timeout_s, self.first_timeout_s = self.first_timeout_s, None
        t0 = time.monotonic()
        r = self.executor.run(code, stdin=stdin, timeout_s=timeout_s, memory_mb=memory_mb)
        with self._lock:
            self.intervals.append((t0, time.monotonic(), code))
        return r


def test_judge_pool_runs_concurrently_and_keeps_order(ex):
    """Proves the pool judges problems at the same time (all four executions' wall intervals overlap:
    each starts before any ends) and returns verdicts in submission order."""
    p = functional("assert f() == 1")
    codes = [
        "import time\ndef f():\n    time.sleep(1.0)\n    return 1",
        "import time\ndef f():\n    time.sleep(1.0)\n    return 2",
    ] * 2
    timed = TimedExecutor(ex)
    with JudgePool(timed, workers=4) as pool:
        futures = [pool.submit(p, c) for c in codes]
        verdicts = [f.result() for f in futures]
    assert [v.verdict for v in verdicts] == ["accepted", "wrong_answer"] * 2
    starts, ends = [a for a, _, _ in timed.intervals], [b for _, b, _ in timed.intervals]
    assert len(timed.intervals) == 4 and max(starts) < min(ends), timed.intervals


def test_a_timeout_is_judged_again_alone_and_the_rerun_counts(ex):
    """Proves a time-out caused by the machine (here: the first run's limit cut to 0.3 s) does not
    become the verdict: the problem is judged again, with no other judgement running meanwhile."""
    p = functional("assert f() == 1")
    slow = "import time\ndef f():\n    time.sleep(0.6)\n    return 1"
    timed = TimedExecutor(ex, first_timeout_s=0.3)
    with JudgePool(timed, workers=2) as pool:
        first = pool.submit(p, slow)
        time.sleep(0.1)
        other = pool.submit(p, "import time\ndef f():\n    time.sleep(0.8)\n    return 1")
        v, w = first.result(), other.result()
    assert v.verdict == "accepted" and "re-run alone after timeout" in v.detail, v
    assert w.verdict == "accepted"
    runs = sorted(timed.intervals)
    rerun = [iv for iv in runs if iv[2] == runs[0][2]][-1]
    others = [iv for iv in runs if iv[2] != runs[0][2]]
    assert all(b <= rerun[0] or a >= rerun[1] for a, b, _ in others), runs  # nothing overlapped the re-run
    # without the re-run, the machine's time-out is the verdict
    with JudgePool(TimedExecutor(ex, first_timeout_s=0.3), workers=1, rerun_alone=False) as pool:
        assert pool.submit(p, slow).result().verdict == "timeout"


def test_a_starved_timeout_is_rerun_by_cpu_time_and_a_cpu_hog_stays_a_timeout(ex):
    """Proves the re-run judges a time-out the machine caused by CPU time: a program that got no CPU
    for longer than the 3 s limit (here it waits 4 s) is re-run alone with 3x the wall limit and
    passes, while one that needs 4 s of CPU stays a timeout, re-run or not."""
    p = functional("assert f() == 1")
    with JudgePool(ex, workers=2) as pool:
        starved = pool.submit(p, "import time\ntime.sleep(4)\ndef f():\n    return 1").result()
        hog = pool.submit(
            p, "import time\nt = time.process_time()\nwhile time.process_time() - t < 4: pass\ndef f():\n    return 1"
        ).result()
    assert starved.verdict == "accepted" and "re-run alone after timeout" in starved.detail, starved
    assert hog.verdict == "timeout", hog
    with JudgePool(ex, workers=1, rerun_alone=False) as pool:
        assert pool.submit(p, "import time\ntime.sleep(4)\ndef f():\n    return 1").result().verdict == "timeout"


def test_a_self_kill_stays_the_programs_after_the_rerun(ex):
    """Proves the re-run does not excuse a program: SIGKILLed again when alone (it kills itself), it
    is its own runtime_error, not an infrastructure error."""
    p = functional("assert f() == 1")
    with JudgePool(ex, workers=2) as pool:
        kill = pool.submit(p, "import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)").result()
    assert kill.verdict == "runtime_error" and "re-run alone after sandbox_error" in kill.detail, kill


# --- CLI -------------------------------------------------------------------------------------------


def test_judge_cli_end_to_end(tmp_path):
    probs = [functional(HE_TESTS, "sq").to_dict(), ADD.to_dict()]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in probs))
    comps = [{"id": "f1", "code": "def sq(x): return x*x"}, {"id": "add", "code": None}]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(c) + "\n" for c in comps))
    out = tmp_path / "v.jsonl"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "judge",
            "--problems",
            str(tmp_path / "p.jsonl"),
            "--completions",
            str(tmp_path / "c.jsonl"),
            "--out",
            str(out),
            "--workers",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["accepted"] == 1 and summary["counts"] == {"accepted": 1, "no_code": 1}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["id"], x["verdict"]) for x in rows] == [("f1", "accepted"), ("add", "no_code")]
    for key in ("id", "verdict", "tests_passed", "tests_total", "first_failed_test", "wall_s"):
        assert key in rows[0]


def test_judge_cli_rejects_unknown_completion_ids(tmp_path):
    (tmp_path / "p.jsonl").write_text(json.dumps(ADD.to_dict()) + "\n")
    (tmp_path / "c.jsonl").write_text(json.dumps({"id": "nope", "code": "print(1)"}) + "\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "judge",
            "--problems",
            str(tmp_path / "p.jsonl"),
            "--completions",
            str(tmp_path / "c.jsonl"),
            "--out",
            str(tmp_path / "v.jsonl"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode != 0 and "'nope'" in r.stderr and not (tmp_path / "v.jsonl").exists()
