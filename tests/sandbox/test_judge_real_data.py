"""Judges on real benchmark data: reference solutions accepted, broken variants rejected.

The default run takes a fixed sample through the default path (pooled sandboxes, a fork per
execution); the full MBPP test split (11-510) and all 164 HumanEval problems run under `-m slow`
through both the pooled path and one fresh sandbox per execution, as does a check that pooled
sessions (fork per input) and fresh sandboxes give the same verdicts on CodeContests problems.
"""

from __future__ import annotations

import ast

import pytest

from coderl.sandbox import samples
from coderl.sandbox.judge import JudgePool, judge_problem
from coderl.sandbox.local import LocalExecutor

# Reference solutions that are NOT accepted, with the reason (kept in sync with docs/judging.md).
KNOWN_REJECTED: dict[str, str] = {}


def _executor(pooled: bool) -> LocalExecutor:
    return LocalExecutor(timeout_s=20.0, memory_mb=1024, output_bytes=64 << 20, pooled=pooled)


@pytest.fixture(scope="module")
def ex():
    e = _executor(pooled=True)
    yield e
    e.close()


@pytest.fixture(scope="module")
def fresh_ex() -> LocalExecutor:
    return _executor(pooled=False)


def _pooled(ex: LocalExecutor) -> LocalExecutor:
    if ex.pool is None:
        pytest.skip(f"no sandbox pool at isolation level {ex.isolation_level!r} (pools need bubblewrap)")
    return ex


@pytest.fixture(scope="module", params=["pooled", "fresh"])
def any_ex(request, ex, fresh_ex) -> LocalExecutor:
    assert fresh_ex.pool is None
    return _pooled(ex) if request.param == "pooled" else fresh_ex


@pytest.fixture(scope="module")
def mbpp(shared_data):
    return samples.mbpp(shared_data / "mbpp.jsonl")


@pytest.fixture(scope="module")
def humaneval():
    return samples.humaneval()


def _judge_all(ex, items, workers=2):
    with JudgePool(ex, workers) as pool:
        futures = [(p, pool.submit(p, code)) for p, code in items]
        return [(p, f.result()) for p, f in futures]


def _tested_function(problem, code: str) -> str:
    """The top-level function of `code` that the tests call (MBPP has no entry_point)."""
    if problem.entry_point:
        return problem.entry_point
    names = [n.name for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]
    called = [n for n in names if f"{n}(" in problem.test_code]
    assert called, f"{problem.id}: no function of the reference is called by the tests"
    return called[-1]


def _broken_variants(problem, code: str) -> dict[str, str]:
    fn = _tested_function(problem, code)
    return {
        "returns a wrong value": code + f"\n\ndef {fn}(*args, **kwargs):\n    return object()\n",
        "exits before the tests": code + "\nimport sys\nsys.exit(0)\n",
        "raises": code + f"\n\ndef {fn}(*args, **kwargs):\n    raise RuntimeError('broken')\n",
    }


def _sample(items, every):
    return items[::every]


def test_mbpp_sample_accepted_and_broken_rejected(ex, mbpp):
    sample = _sample(mbpp, 50)
    assert len(sample) == 10
    verdicts = _judge_all(ex, sample)
    assert [(p.id, v.verdict, v.detail) for p, v in verdicts if v.verdict != "accepted"] == []
    broken = [(p, variant) for p, code in sample[:4] for variant in _broken_variants(p, code).values()]
    for p, v in _judge_all(ex, broken):
        assert v.verdict != "accepted", f"{p.id}: a broken variant was accepted"


def test_humaneval_sample_accepted_and_broken_rejected(ex, humaneval):
    sample = _sample(humaneval, 20)
    verdicts = _judge_all(ex, sample)
    assert [(p.id, v.verdict, v.detail) for p, v in verdicts if v.verdict != "accepted"] == []
    broken = [(p, variant) for p, code in sample[:4] for variant in _broken_variants(p, code).values()]
    for p, v in _judge_all(ex, broken):
        assert v.verdict != "accepted", f"{p.id}: a broken variant was accepted"


def test_codecontests_known_solutions_and_broken_variants(ex, shared_data):
    items = samples.codecontests_train300(shared_data / "codecontests_train300.jsonl")
    # some known solutions print another valid answer than the expected one: wrong_answer is right there
    sample = sorted(items, key=lambda it: (len(it[0].tests), it[0].id))[:8]
    verdicts = dict((p.id, v) for p, v in _judge_all(ex, sample))
    accepted = [p for p, _ in sample if verdicts[p.id].accepted]
    assert len(accepted) >= 3, {k: (v.verdict, v.detail) for k, v in verdicts.items()}
    for p, code in sample:
        if not verdicts[p.id].accepted:
            continue
        wrong = judge_problem(p, code + "\nprint('coderl-extra-token')\n", ex)
        assert wrong.verdict == "wrong_answer", (p.id, wrong)
        crash = judge_problem(p, "raise SystemExit(1)\n" + code, ex)
        assert crash.verdict == "runtime_error" and crash.tests_passed == 0


@pytest.mark.slow
def test_all_mbpp_test_split_reference_solutions_accepted(any_ex, mbpp):
    bad = {p.id: (v.verdict, v.detail) for p, v in _judge_all(any_ex, mbpp) if not v.accepted}
    assert bad.keys() == KNOWN_REJECTED.keys() & {p.id for p, _ in mbpp}, bad


@pytest.mark.slow
def test_all_humaneval_canonical_solutions_accepted_and_broken_rejected(any_ex, humaneval):
    bad = {p.id: (v.verdict, v.detail) for p, v in _judge_all(any_ex, humaneval) if not v.accepted}
    assert bad.keys() == KNOWN_REJECTED.keys() & {p.id for p, _ in humaneval}, bad
    broken = [(p, variant) for p, code in humaneval for variant in _broken_variants(p, code).values()]
    assert [p.id for p, v in _judge_all(any_ex, broken) if v.accepted] == []


@pytest.mark.slow
def test_pooled_and_fresh_sandboxes_agree_on_codecontests(ex, fresh_ex, shared_data):
    """Proves pooled sessions (a fork per input) and fresh sandboxes give the same verdicts and test
    counts on 25 CodeContests problems, and that the pool really ran every pooled test."""
    ex = _pooled(ex)
    items = samples.codecontests_train300(shared_data / "codecontests_train300.jsonl")[:25]
    before = ex.pool.served
    pooled_v = [v for _, v in _judge_all(ex, items)]
    assert ex.pool.served - before >= sum(len(v.test_statuses) for v in pooled_v), "tests ran outside the pool"
    pooled = [(v.verdict, v.tests_passed) for v in pooled_v]
    fresh = [(v.verdict, v.tests_passed) for _, v in _judge_all(fresh_ex, items)]
    assert pooled == fresh
    assert sum(v == "accepted" for v, _ in pooled) >= 15
