"""The infrastructure guard's budget, and a run whose backend fails to answer."""

import json

import pytest

from coderl.cli import main
from coderl.errors import InfrastructureError
from coderl.evaluation.guard import Guard


def test_budget_is_a_share_of_the_planned_problems():
    g = Guard.from_config({"max_sandbox_error_rate": 0.02, "max_generation_failure_rate": 0.0}, planned=150)
    g.sandbox_error("ds/1", "x")
    g.sandbox_error("ds/2", "y")
    g.sandbox_error("ds/3", "z")  # floor(0.02 * 150) = 3 allowed
    with pytest.raises(
        InfrastructureError,
        match=r"4 sandbox failure\(s\) out of 150 .* First: ds/1: x; ds/2: y; ds/3: z; \.\.\. \(1 more\)",
    ):
        g.sandbox_error("ds/4", "w")
    with pytest.raises(InfrastructureError, match="generation failure"):
        g.generation_failure("ds/9", "HTTP 500")


def test_generation_failures_stop_the_run(shared_data, tmp_path, capsys):
    raw = tmp_path / "raw"
    assert main(["data", "--datasets", "codecontests_sample20", "--raw-dir", str(raw), "--offline"]) == 0
    out = tmp_path / "outputs"
    # these problems have no known solution: the oracle backend fails on every one
    rc = main(
        [
            "eval",
            "--model",
            "oracle",
            "--step",
            "0",
            "--backend",
            "oracle",
            "--phase",
            "p",
            "--datasets",
            "codecontests_sample20",
            "--raw-dir",
            str(raw),
            "--out-root",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "generation failure(s) out of 20" in err and "has no reference_code" in err
    assert not (out / "p" / "eval_history.jsonl").exists() and not (out / "p" / "step_0" / "metrics.json").exists()
    gen_cache = out / "p" / "step_0" / "cache" / "generations" / "codecontests_sample20.jsonl"
    assert not gen_cache.exists() or not [json.loads(x) for x in gen_cache.read_text().splitlines()]
