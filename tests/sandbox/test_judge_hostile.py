"""Answers written to pass without passing (tests/hostile/judge/): none may be accepted.

Each file is an answer for one of the small problems below (`# problem:` line) whose tests it
would pass if the judge let it tamper: read the completion token (fd 0, /proc, files, frames,
gc, memory), return objects equal to everything, patch the builtins or modules the tests use,
jump over the tests with a tracer, fake the completion event, redefine check() or the prompt's
helpers, exit early. Every level runs them: pooled bwrap sandboxes (the default), one fresh
bwrap sandbox per execution, and the rlimits level (no namespaces). A correct answer is
accepted on every problem and level, so a rejection is the judge's doing, not a broken sandbox.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from coderl.data.problem import Problem
from coderl.sandbox.judge import judge_problem
from coderl.sandbox.local import LocalExecutor

HACKS = Path(__file__).parents[1] / "hostile" / "judge"
STUB = 'def sq(x):\n    """[x, x * x]"""\n'
PROBLEMS = {
    "eq": Problem(
        id="eq",
        dataset="t",
        kind="functional",
        prompt=STUB,
        entry_point="sq",
        test_code="def check(candidate):\n    assert candidate(2) == [2, 4]\n    assert candidate(3) == [3, 9]\n",
    ),
    "eq_mbpp": Problem(
        id="eq_mbpp",
        dataset="t",
        kind="functional",
        prompt="Return [x, x*x].",
        test_code="assert sq(2) == [2, 4]\nassert sq(3) == [3, 9]\n",
    ),
    "builtins": Problem(
        id="builtins",
        dataset="t",
        kind="functional",
        prompt=STUB,
        entry_point="sq",
        test_code="def check(candidate):\n    assert candidate(2) == [2, 4]\n"
        "    assert sorted(candidate(3)) == [3, 9]\n"
        "    assert abs(candidate(4)[1] - 16) < 1e-9\n",
    ),
    "module": Problem(
        id="module",
        dataset="t",
        kind="functional",
        prompt=STUB,
        entry_point="sq",
        test_code="import math\n\ndef check(candidate):\n    assert candidate(2) == [2, 4]\n"
        "    assert math.isclose(candidate(5)[1], 25)\n",
    ),
    "helpers": Problem(
        id="helpers",
        dataset="t",
        kind="functional",
        entry_point="decode",
        prompt='def encode(s):\n    return s[::-1]\n\n\ndef decode(s):\n    """inverse of encode"""\n',
        test_code="def check(candidate):\n    assert candidate(encode('abc')) == 'abc'\n",
    ),
}
CORRECT = {"helpers": "def decode(s):\n    return s[::-1]\n"}


def _hacks() -> list[tuple[str, str]]:
    out = []
    for path in sorted(HACKS.glob("*.py")):
        head = path.read_text().splitlines()[:2]
        assert head[0].startswith("# hack:"), f"{path.name}: the first line must say '# hack: what it tries'"
        problems = head[1].split(":", 1)[1].split() if head[1].startswith("# problem:") else ["eq"]
        out += [(path.name, p) for p in problems]
    return out


def _levels() -> list[str]:
    return (["bwrap", "bwrap-fresh"] if shutil.which("bwrap") else []) + ["rlimits"]


@pytest.fixture(scope="module", params=_levels())
def executor(request):
    level, _, variant = request.param.partition("-")
    ex = LocalExecutor(timeout_s=5.0, memory_mb=512, output_bytes=1 << 20, level=level, pooled=variant != "fresh")
    ok, why = ex.health()
    if not ok:
        pytest.skip(f"isolation level {request.param} does not work here: {why}")
    yield ex
    ex.close()


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_a_correct_answer_is_accepted_at_every_level(executor, name):
    code = CORRECT.get(name, "def sq(x):\n    return [x, x * x]\n")
    v = judge_problem(PROBLEMS[name], code, executor)
    assert v.verdict == "accepted", v


@pytest.mark.parametrize("hack,problem", _hacks())
def test_no_hack_is_accepted(executor, hack, problem):
    v = judge_problem(PROBLEMS[problem], (HACKS / hack).read_text(), executor)
    assert v.verdict != "accepted", f"{hack} passed {problem} without passing its tests"
    assert v.verdict != "sandbox_error", v  # a hack is the answer's failure, not the infrastructure's
