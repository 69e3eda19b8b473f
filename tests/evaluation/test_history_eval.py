"""eval_history.jsonl: replace-not-duplicate, atomic, readable the runbook's way."""

import json
import subprocess
import sys

import pytest

from coderl.errors import DataError
from coderl.evaluation.history import has_evaluation, read_history, record_evaluation


def row(step, tier=1, fp="fpA", acc=0.5, ts="2026-11-27T10:00:00"):
    return {
        "step": step,
        "checkpoint": f"ck/global_step_{step}",
        "tier": tier,
        "timestamp": ts,
        "eval_fingerprint": fp,
        "scores": {"codecontests_valid": {"accepted_at_1": acc, "exec_success_rate": acc, "n": 117}},
    }


def test_rerun_replaces_and_other_keys_are_kept(tmp_path):
    p = tmp_path / "phase1" / "eval_history.jsonl"
    assert record_evaluation(p, row(200, acc=0.1)) is False
    record_evaluation(p, row(100))
    record_evaluation(p, row(100, tier=3))
    record_evaluation(p, row(100, fp="fpB"))
    assert record_evaluation(p, row(200, acc=0.7, ts="2026-11-27T11:00:00")) is True
    rows = read_history(p)
    assert [(r["step"], r["tier"], r["eval_fingerprint"]) for r in rows] == [
        (100, 1, "fpA"),
        (100, 1, "fpB"),
        (100, 3, "fpA"),
        (200, 1, "fpA"),
    ]
    # the runbook's snippet
    lines = [json.loads(x) for x in p.read_text().splitlines()]
    assert {d["step"]: d["scores"]["codecontests_valid"]["accepted_at_1"] for d in lines}[200] == 0.7
    assert has_evaluation(p, 100, 3, "fpA") and not has_evaluation(p, 300, 1, "fpA")


def test_concurrent_writers_lose_nothing(tmp_path):
    p = tmp_path / "h.jsonl"
    code = (
        "import sys; from coderl.evaluation.history import record_evaluation as r\n"
        "for i in range(15): r(sys.argv[1], {'step': int(sys.argv[2]) * 100 + i, 'tier': 1, 'eval_fingerprint': 'x', 'scores': {}})"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(p), str(k)]) for k in range(3)]
    assert all(pr.wait() == 0 for pr in procs)
    assert sorted(r["step"] for r in read_history(p)) == sorted(k * 100 + i for k in range(3) for i in range(15))


def test_foreign_row_is_refused_with_its_location(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text(json.dumps({"step": 1}) + "\n")
    with pytest.raises(DataError, match=r"row 1 lacks tier"):
        read_history(p)
