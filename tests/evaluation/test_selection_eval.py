"""Best-checkpoint rule: primary, tie margin, tiebreak, missing datasets, fingerprints, regression flag."""

from coderl.evaluation.selection import select_best

SEL = {
    "primary": "exec_success_rate",
    "tiebreak": "accepted_at_1",
    "dataset": "codecontests_valid",
    "tie_margin": 0.005,
    "regression_dataset": "humaneval",
    "regression_threshold_pp": 2.0,
}


def row(step, exec_=None, acc=None, he=None, tier=1, fp="F", ts=None, cfg="C", limit=None, runtime=None):
    scores = {}
    if exec_ is not None:
        scores["codecontests_valid"] = {
            "exec_success_rate": exec_,
            "accepted_at_1": acc,
            "n": 117,
            "fingerprint": fp + "cc",
        }
    if he is not None:
        scores["humaneval"] = {"accepted_at_1": he, "exec_success_rate": he, "n": 164, "fingerprint": fp + "he"}
    return {
        "step": step,
        "tier": tier,
        "checkpoint": f"g/global_step_{step}",
        "eval_fingerprint": fp,
        "timestamp": ts or f"2026-11-27T10:{step // 100:02d}:00",
        "scores": scores,
        "config_fingerprint": cfg,
        "limit": limit,
        "runtime": runtime or {"sandbox": "embedded"},
    }


def test_highest_primary_wins():
    b = select_best([row(100, 0.50, 0.20), row(200, 0.60, 0.10), row(300, 0.55, 0.30)], SEL)
    assert b["step"] == 200 and "highest codecontests_valid exec_success_rate" in b["explanation"]


def test_within_margin_the_tiebreak_decides():
    b = select_best([row(100, 0.600, 0.20), row(200, 0.603, 0.10), row(300, 0.590, 0.50)], SEL)
    assert b["step"] == 100  # 300 is outside the 0.5 pp margin despite its accepted@1
    assert "within 0.5 pp" in b["explanation"] and "100, 200" in b["explanation"]


def test_missing_dataset_and_other_fingerprint_are_excluded_with_reasons():
    rows = [row(100, he=0.8), row(200, 0.4, 0.2), row(300, 0.9, 0.9, fp="OLD", ts="2026-11-27T09:00:00")]
    b = select_best(rows, SEL)
    assert b["step"] == 200
    reasons = {e["step"]: e["reason"] for e in b["excluded"]}
    assert "no codecontests_valid" in reasons[100] and "not comparable" in reasons[300]


def test_nothing_to_select():
    b = select_best([row(100, he=0.8)], SEL)
    assert b["step"] is None and "no full evaluation" in b["explanation"]


def test_regression_flagged_against_phase0():
    base = [row(0, 0.3, 0.1, he=0.85, tier=3)]
    b = select_best([row(100, 0.5, 0.2, he=0.80, tier=3)], SEL, base)
    rc = b["regression_check"]
    assert rc["status"] == "regression" and abs(rc["drop_pp"] - 5.0) < 1e-6 and "WARNING" in b["explanation"]
    ok = select_best([row(100, 0.5, 0.2, he=0.84, tier=3)], SEL, base)["regression_check"]
    assert ok["status"] == "ok"


def test_regression_not_checked_says_why():
    base = [row(0, 0.3, 0.1, he=0.85, tier=3)]
    tier1 = select_best([row(100, 0.5, 0.2)], SEL, base)["regression_check"]
    assert tier1["status"] == "not_checked" and "evaluate it at tier 3" in tier1["reason"]
    nobase = select_best([row(100, 0.5, 0.2, he=0.8, tier=3)], SEL, [])["regression_check"]
    assert nobase["status"] == "not_checked" and "make eval-baseline" in nobase["reason"]
    otherfp = select_best([row(100, 0.5, 0.2, he=0.8, tier=3)], SEL, [row(0, he=0.9, fp="X")])["regression_check"]
    assert otherfp["status"] == "not_checked" and "another fingerprint" in otherfp["reason"]


def test_same_step_at_two_tiers_counts_once_with_the_higher_tier():
    b = select_best([row(100, 0.5, 0.2), row(100, 0.5, 0.2, he=0.9, tier=3)], SEL)
    assert b["tier"] == 3 and len(b["candidates"]) == 1


def test_a_limit_run_is_never_selected_nor_the_reference():
    """Proves a later --limit quick check (here the best-looking and the most recent row, under its own
    fingerprint) neither wins nor makes the full evaluations 'not comparable'."""
    rows = [row(100, 0.50, 0.2), row(200, 0.60, 0.3), row(300, 0.99, 0.9, fp="L", limit=5, ts="2026-11-28T10:00:00")]
    b = select_best(rows, SEL, config_fingerprint="C")
    assert b["step"] == 200 and [c["step"] for c in b["candidates"]] == [100, 200]
    assert [e["reason"] for e in b["excluded"] if e["step"] == 300] == [
        "a --limit 5 quick check (first 5 problems per dataset): never selected"
    ]


def test_only_the_current_config_is_compared_and_older_ones_say_how_to_reevaluate():
    """Proves rows made under an older eval config are not candidates even when they are the most
    numerous, and that a phase with only such rows is told so and how to re-evaluate."""
    old = [row(100, 0.9, 0.9, cfg="OLD"), row(200, 0.8, 0.8, cfg="OLD")]
    b = select_best(old + [row(300, 0.1, 0.1)], SEL, config_fingerprint="C")
    assert b["step"] == 300 and {e["step"] for e in b["excluded"]} == {100, 200}
    none = select_best(old, SEL, config_fingerprint="C")
    assert none["step"] is None
    assert "steps 100, 200" in none["explanation"] and "older eval config" in none["explanation"]
    assert "make eval-all" in none["explanation"]


def test_a_stray_run_under_another_runtime_does_not_hijack_the_comparison():
    """Proves the compared group is the one holding the most steps: one later run under another sandbox
    (another per-dataset fingerprint) is excluded, naming both runtimes, not the other way round."""
    rows = [
        row(100, 0.5, 0.2),
        row(200, 0.6, 0.2),
        row(300, 0.9, 0.9, fp="SF", runtime={"sandbox": "sandboxfusion"}, ts="2026-11-28T10:00:00"),
    ]
    b = select_best(rows, SEL, config_fingerprint="C")
    assert b["step"] == 200
    reason = next(e["reason"] for e in b["excluded"] if e["step"] == 300)
    assert "sandbox sandboxfusion" in reason and "sandbox embedded" in reason


def test_regression_baseline_is_the_latest_full_comparable_phase0_row():
    """Proves the Phase 0 reference is the latest full comparable evaluation: neither a later --limit
    run nor an earlier full one."""
    base = [
        row(0, 0.3, 0.1, he=0.90, tier=3, ts="2026-11-27T08:00:00"),
        row(0, 0.3, 0.1, he=0.84, tier=1, ts="2026-11-27T09:00:00"),
        row(0, 0.3, 0.1, he=0.10, tier=3, limit=5, ts="2026-11-27T11:00:00"),
    ]
    rc = select_best([row(100, 0.5, 0.2, he=0.83, tier=3)], SEL, base, config_fingerprint="C")["regression_check"]
    assert rc["baseline"] == 0.84 and rc["status"] == "ok"


def test_write_best_checkpoint_selects_against_phase0_and_writes_the_file(tmp_path, eval_config):
    """The phase's history on disk against Phase 0's -> <out>/<phase>/best_checkpoint.json, as returned."""
    import json

    from coderl.evaluation.history import history_path, record_evaluation
    from coderl.evaluation.selection import write_best_checkpoint

    fp = eval_config.fingerprint()
    for r in (row(100, 0.50, 0.20, he=0.60, cfg=fp), row(200, 0.60, 0.30, he=0.50, cfg=fp)):
        record_evaluation(history_path(tmp_path, "phase1"), r)
    record_evaluation(history_path(tmp_path, "phase0"), row(0, he=0.70, cfg=fp))
    best = write_best_checkpoint(tmp_path, "phase1", eval_config)
    assert best["step"] == 200 and best["phase"] == "phase1"
    assert best["regression_check"]["status"] == "regression"  # humaneval 70% -> 50% against Phase 0
    assert json.loads((tmp_path / "phase1" / "best_checkpoint.json").read_text()) == best
