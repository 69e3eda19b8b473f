"""SFT chat rows from CodeContests problems with known solutions (the real train300 file)."""

from __future__ import annotations

import json

import pytest

from coderl.data.sft_from_solutions import main, rows_from_solutions
from coderl.errors import DataError
from coderl.generation import extract_code


def test_each_problem_becomes_the_eval_prompt_and_its_solution(shared_data, eval_config, tmp_path):
    src = shared_data / "codecontests_train300.jsonl"
    raw = [json.loads(line) for line in src.read_text().splitlines()]
    rows = rows_from_solutions(src, eval_config)
    assert len(rows) == len(raw) == 300
    for r, p in zip(rows, raw):
        roles = [m["role"] for m in r["messages"]]
        assert roles[-2:] == ["user", "assistant"] and r["id"] == p["id"] and r["tests"] == p["tests"]
        assert p["statement"].strip() in r["messages"][-2]["content"]
        # the answer is what the evaluation's extractor takes out of a model's reply
        assert extract_code(r["messages"][-1]["content"]).code.strip() == p["solution"].strip()
    out = tmp_path / "rows.jsonl"
    assert main(["--input", str(src), "--out", str(out)]) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == [p["id"] for p in raw]


def test_a_row_without_a_solution_is_named(eval_config, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text(
        json.dumps({"id": "a", "statement": "s", "solution": "print(1)", "tests": []})
        + "\n"
        + json.dumps({"id": "b", "statement": "s", "tests": []})
        + "\n"
    )
    with pytest.raises(DataError, match=r"bad\.jsonl:2: missing solution"):
        rows_from_solutions(src, eval_config)
    assert main(["--input", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 2
