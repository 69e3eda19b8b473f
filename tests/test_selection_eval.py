"""Best-checkpoint rule: primary, tie margin, tiebreak, missing datasets, fingerprints, regression flag."""

from coderl.evaluation.selection import select_best

SEL = {"primary": "exec_success_rate", "tiebreak": "accepted_at_1", "dataset": "codecontests_valid",
       "tie_margin": 0.005, "regression_dataset": "humaneval", "regression_threshold_pp": 2.0}


def row(step, exec_=None, acc=None, he=None, tier=1, fp="F", ts=None):
    scores = {}
    if exec_ is not None:
        scores["codecontests_valid"] = {"exec_success_rate": exec_, "accepted_at_1": acc, "n": 117, "fingerprint": fp + "cc"}
    if he is not None:
        scores["humaneval"] = {"accepted_at_1": he, "exec_success_rate": he, "n": 164, "fingerprint": fp + "he"}
    return {"step": step, "tier": tier, "checkpoint": f"g/global_step_{step}", "eval_fingerprint": fp,
            "timestamp": ts or f"2026-11-27T10:{step // 100:02d}:00", "scores": scores}


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
    assert b["step"] is None and "no evaluation" in b["explanation"]


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
