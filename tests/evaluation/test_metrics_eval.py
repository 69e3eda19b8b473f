"""Per-dataset metrics: each verdict counts where docs/metrics.md says it does."""

from coderl.evaluation.metrics import dataset_metrics, history_scores


def rec(verdict, truncated=False, tokens=10, passed=0, total=4):
    return {
        "verdict": verdict,
        "truncated": truncated,
        "completion_tokens": tokens,
        "prompt_tokens": 5,
        "tests_passed": passed,
        "tests_total": total,
        "gen_wall_s": 1.0,
        "exec_wall_s": 0.5,
    }


def test_rates_follow_the_definitions():
    recs = [
        rec("accepted", passed=4),
        rec("accepted", passed=4),
        rec("wrong_answer", passed=1),
        rec("runtime_error"),
        rec("timeout"),
        rec("memory_exceeded"),
        rec("output_limit"),
        rec("no_code", truncated=True, tokens=30, total=0),
        rec("sandbox_error"),
    ]
    m = dataset_metrics(recs)
    assert m["n"] == 8 and m["n_excluded"] == 1  # sandbox_error never counts against the model
    assert m["accepted_at_1"] == 2 / 8
    assert m["exec_success_rate"] == 3 / 8  # accepted + wrong_answer ran to completion
    assert m["no_code_rate"] == 1 / 8 and m["truncated_rate"] == 1 / 8
    assert m["verdicts"]["sandbox_error"] == 1 and m["verdicts"]["timeout"] == 1
    assert m["mean_completion_tokens"] == (7 * 10 + 30) / 8
    assert m["generation_s"] == 9.0 and m["execution_s"] == 4.5
    assert abs(m["mean_test_pass_fraction"] - (1 + 1 + 0.25 + 0 + 0 + 0 + 0) / 7) < 1e-9
    assert set(history_scores(m)) >= {"n", "accepted_at_1", "exec_success_rate"}


def test_empty_dataset_has_no_rates_rather_than_zero():
    m = dataset_metrics([rec("sandbox_error")])
    assert m["n"] == 0 and m["accepted_at_1"] is None and m["exec_success_rate"] is None
