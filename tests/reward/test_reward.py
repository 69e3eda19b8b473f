"""coderl.reward: verl's custom reward signature over the real judge and sandbox, on real problems.

What each test proves is in its name; sandbox-failure tests use a real HTTP server speaking
SandboxFusion's /run_code protocol, executing with the real local sandbox, told to fail on cue.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coderl.errors import ConfigError, DataError, InfrastructureError, SandboxUnavailable
from coderl.reward import (
    FORMAT,
    RewardScorer,
    compute_score,
    compute_score_async,
    compute_score_batch,
    parse_ground_truth,
    to_ground_truth,
)
from coderl.reward.scorer import RESULT_KEYS
from coderl.sandbox import samples
from coderl.sandbox.compare import get_comparator
from http_json import send_json

QUEEN = "cluster0/1143_c_queen_2410"  # a train300 problem whose known solution passes all 10 tests


@pytest.fixture(scope="module")
def train300(shared_data):
    return {p.id: (p, sol) for p, sol in samples.codecontests_train300(shared_data / "codecontests_train300.jsonl")}


@pytest.fixture(scope="module")
def queen(train300):
    return train300[QUEEN]


def fenced(code: str) -> str:
    return f"Here is my solution.\n\n```python\n{code.strip()}\n```\n\nIt prints the answer."


# --- ground_truth ------------------------------------------------------------------------------


def test_ground_truth_round_trips_stdio_and_functional_problems(queen):
    p, _ = queen
    back = parse_ground_truth(to_ground_truth(p), "codecontests")
    assert (back.id, back.kind, back.tests, back.prompt) == (p.id, "stdio", p.tests, p.prompt)
    assert back.reference_code is None  # the reward never needs (nor ships) the reference
    he = samples.humaneval()[0][0]
    gt = json.loads(to_ground_truth(he))
    assert gt["format"] == FORMAT and gt["kind"] == "functional" and gt["entry_point"] == he.entry_point
    back = parse_ground_truth(gt)  # a dict (a parquet struct column) is accepted too
    assert (back.test_code, back.entry_point, back.prompt) == (he.test_code, he.entry_point, he.prompt)


@pytest.mark.parametrize(
    "bad, says",
    [
        ("not json at all", "not valid JSON"),
        (json.dumps([1, 2]), "must be a JSON object"),
        (json.dumps({"id": "x", "kind": "stdio", "prompt": "p", "dataset": "d", "tests": []}), "has format None"),
        (
            json.dumps({"format": FORMAT, "id": "x", "dataset": "d", "kind": "stdio", "prompt": "p", "tests": []}),
            "non-empty 'tests' list",
        ),
        (
            json.dumps({"format": FORMAT, "id": "x", "dataset": "d", "kind": "functional", "prompt": "p"}),
            "need non-empty 'test_code'",
        ),
        (
            json.dumps(
                {"format": FORMAT, "id": "x", "dataset": "d", "kind": "stdio", "prompt": "p", "tests": [{"input": "1"}]}
            ),
            "tests[0] must be",
        ),
        (
            json.dumps(
                {
                    "format": FORMAT,
                    "id": "x",
                    "dataset": "d",
                    "kind": "stdio",
                    "prompt": "p",
                    "tests": [{"input": "1", "output": "1"}],
                    "answer": "1",
                }
            ),
            "unknown field(s) ['answer']",
        ),
        (12345, "must be a JSON string"),
    ],
)
def test_malformed_ground_truth_is_a_data_error_naming_the_problem(bad, says):
    with pytest.raises(DataError) as e:
        compute_score("codecontests", fenced("print(1)"), bad)
    assert says in str(e.value) and "codecontests" in str(e.value)


# --- modes and the returned dict ----------------------------------------------------------------


def test_known_solution_scores_1_in_every_mode_with_all_extras(queen):
    p, sol = queen
    gt = to_ground_truth(p)
    for mode in ("binary", "fraction", "pass_plus_fraction"):
        r = compute_score("codecontests", fenced(sol), gt, mode=mode)
        assert set(r) == set(RESULT_KEYS)
        assert (r["score"], r["acc"], r["verdict"]) == (1.0, 1.0, "accepted"), r
        assert r["tests_passed"] == r["tests_total"] == r["tests_run"] == len(p.tests) == 10
        assert r["extraction"] == "fenced_python" and r["wall_s"] > 0


def test_partial_answer_binary_stops_at_first_failure_fraction_runs_all(queen):
    p, _ = queen
    same = get_comparator("codecontests")
    first_out = p.tests[0]["output"]
    expected_pass = sum(same(first_out, t["output"]) for t in p.tests)
    first_fail = next(i for i, t in enumerate(p.tests) if not same(first_out, t["output"]))
    assert 0 < expected_pass < len(p.tests)  # the problem makes a partial answer possible
    answer = fenced("import sys\nsys.stdin.read()\nsys.stdout.write(" + repr(first_out) + ")")
    gt = to_ground_truth(p)
    b = compute_score("codecontests", answer, gt)  # default mode: binary
    f = compute_score("codecontests", answer, gt, mode="fraction")
    ppf = compute_score("codecontests", answer, gt, mode="pass_plus_fraction")
    assert (b["score"], b["verdict"], b["tests_run"], b["tests_passed"]) == (
        0.0,
        "wrong_answer",
        first_fail + 1,
        first_fail,
    )
    assert f["tests_run"] == len(p.tests) and f["tests_passed"] == expected_pass
    assert f["score"] == pytest.approx(expected_pass / len(p.tests))
    assert ppf["score"] == pytest.approx(0.1 * expected_pass / len(p.tests))
    assert b["acc"] == f["acc"] == ppf["acc"] == 0.0


def test_no_code_and_failures_score_zero_in_every_mode(queen):
    p, _ = queen
    gt = to_ground_truth(p)
    cases = {
        "no_code": "Sort the queens and answer greedily.",
        "runtime_error": fenced("import sys\nsys.stdin.read()\nraise SystemExit(3)"),
    }
    for verdict, answer in cases.items():
        for mode in ("binary", "fraction", "pass_plus_fraction"):
            r = compute_score("codecontests", answer, gt, mode=mode)
            assert (r["score"], r["verdict"]) == (0.0, verdict), (mode, r)


def test_functional_body_only_answer_is_completed_from_the_prompt_as_in_evaluation():
    he = samples.humaneval()[2][0]  # HumanEval/2 truncate_number: body-only completions are completed from the stub
    body = "```python\n    return number % 1.0\n```"
    r = compute_score("humaneval", body, to_ground_truth(he))
    assert (r["score"], r["verdict"], r["tests_total"]) == (1.0, "accepted", 1), r
    wrong = compute_score("humaneval", "```python\n    return number\n```", to_ground_truth(he), mode="fraction")
    assert (wrong["score"], wrong["verdict"]) == (0.0, "wrong_answer")


def test_bad_settings_are_config_errors(queen):
    gt = to_ground_truth(queen[0])
    with pytest.raises(ConfigError, match="not one of"):
        compute_score("codecontests", fenced("print(1)"), gt, mode="partial")
    with pytest.raises(ConfigError, match=r"unknown reward_kwargs \['mdoe'\]"):
        compute_score("codecontests", fenced("print(1)"), gt, mdoe="fraction")


def test_async_and_batch_forms_give_the_sync_scores(queen, train300):
    p, sol = queen
    other, other_sol = train300["cluster0/116_c_party_7303"]
    gts = [to_ground_truth(p), to_ground_truth(other), to_ground_truth(p)]
    texts = [fenced(sol), fenced(other_sol), fenced("print(0)")]

    async def all_async():
        return await asyncio.gather(*(compute_score_async("codecontests", t, g) for t, g in zip(texts, gts)))

    strip = lambda rs: [{k: v for k, v in r.items() if k != "wall_s"} for r in rs]  # noqa: E731
    sync = strip([compute_score("codecontests", t, g) for t, g in zip(texts, gts)])
    assert [r["score"] for r in sync] == [1.0, 1.0, 0.0]
    assert strip(asyncio.run(all_async())) == sync
    assert strip(compute_score_batch(["codecontests"] * 3, texts, gts, [{}] * 3)) == sync


# --- sandbox failures are never a reward -------------------------------------------------------


class FlakySandboxFusion:
    """A real /run_code server (SandboxFusion's protocol) executing with the local sandbox.

    `fail_next` requests answer SandboxError (what SandboxFusion returns when its own sandbox breaks).
    """

    def __init__(self, executor) -> None:
        outer = self
        self.executor, self.fail_next, self.requests, self.failed = executor, 0, 0, 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests += 1
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    outer.failed += 1
                    resp = {"status": "SandboxError", "message": "container crashed"}
                else:
                    r = outer.executor.run(body["code"], stdin=body.get("stdin", ""), timeout_s=body["run_timeout"])
                    status = {"ok": "Finished", "runtime_error": "Finished", "timeout": "TimeLimitExceeded"}.get(
                        r.status, "Error"
                    )
                    resp = {
                        "status": "Success" if r.ok else "Failed",
                        "run_result": {
                            "status": status,
                            "return_code": r.exit_code,
                            "stdout": r.stdout,
                            "stderr": r.stderr,
                            "execution_time": r.wall_s,
                        },
                    }
                send_json(self, resp)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._t = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._t.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def flaky(eval_config):
    from coderl.sandbox import make_executor

    srv = FlakySandboxFusion(make_executor("local", eval_config))
    yield srv
    srv.close()


def test_transient_sandbox_failures_are_retried_to_the_right_reward(flaky, eval_config, queen):
    p, sol = queen
    scorer = RewardScorer(eval_config, sandbox=flaky.url, workers=1, retries=2, retry_wait_s=0.01)
    flaky.fail_next = 2  # the first two executions of the known solution fail in the sandbox
    r = scorer.score(fenced(sol), p)
    assert flaky.failed == 2 and (r["score"], r["verdict"]) == (1.0, "accepted"), r
    scorer.close()


def test_persistent_sandbox_failure_raises_and_never_returns_a_score(flaky, eval_config, queen):
    p, _ = queen
    scorer = RewardScorer(eval_config, sandbox=flaky.url, workers=1, retries=2, retry_wait_s=0.01)
    flaky.fail_next = 10**6
    with pytest.raises(InfrastructureError, match="failed 3 times in a row on problem 'cluster0/1143_c_queen_2410'"):
        scorer.score(fenced("print(0)"), p)  # a wrong answer: a 0 here would look plausible
    assert flaky.failed == 3
    scorer.close()


def test_unreachable_sandbox_refuses_to_start(eval_config):
    cfg = dataclasses.replace(eval_config, serving={**eval_config.serving, "retries": 0})
    with pytest.raises(SandboxUnavailable, match="not healthy"):
        RewardScorer(cfg, sandbox="http://127.0.0.1:9")
