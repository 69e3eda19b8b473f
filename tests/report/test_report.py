"""coderl report from fixture histories: tables, fingerprint warnings, missing data, plots."""

import json

import pytest

from coderl.cli import main
from coderl.evaluation.history import record_evaluation
from coderl.report.training_log import parse_training_log, series

SEL = {
    "primary": "exec_success_rate",
    "tiebreak": "accepted_at_1",
    "dataset": "codecontests_valid",
    "tie_margin": 0.005,
    "regression_dataset": "humaneval",
    "regression_threshold_pp": 2.0,
}


def row(step, tier, cc, mbpp, he=None, fp="F"):
    s = {
        "codecontests_valid": {"accepted_at_1": cc[0], "exec_success_rate": cc[1], "n": 117, "fingerprint": fp + "cc"},
        "mbpp_reg": {"accepted_at_1": mbpp, "exec_success_rate": mbpp, "n": 200, "fingerprint": fp + "mb"},
    }
    if he is not None:
        s["humaneval"] = {"accepted_at_1": he, "exec_success_rate": he, "n": 164, "fingerprint": fp + "he"}
    return {
        "step": step,
        "tier": tier,
        "checkpoint": f"c/global_step_{step}",
        "eval_fingerprint": fp,
        "timestamp": f"2026-11-27T1{tier}:{step // 10:02d}:00",
        "scores": s,
    }


@pytest.fixture
def outputs(tmp_path):
    root = tmp_path / "outputs"
    record_evaluation(root / "phase0" / "eval_history.jsonl", row(0, 3, (0.10, 0.40), 0.60, he=0.85))
    h = root / "phase1_sft" / "eval_history.jsonl"
    record_evaluation(h, row(100, 1, (0.15, 0.50), 0.61))
    record_evaluation(h, row(200, 1, (0.25, 0.62), 0.62))
    record_evaluation(h, row(300, 3, (0.24, 0.55), 0.55, he=0.80))
    return root


def test_report_compares_best_to_phase0_with_targets(outputs, tmp_path):
    from coderl.report.build import build_report

    log = tmp_path / "train.log"
    log.write_text(
        "noise\nstep:1 - train/loss:2.5 - train/grad_norm:3.0 - train/lr:1e-05 - train/mfu:0.01\n"
        "step:2 - train/loss:2.1 - train/lr:2e-05\n" + json.dumps({"step": 2, "data": {"val/loss": 2.2}}) + "\n"
    )
    rep = build_report(outputs, tmp_path / "rep", SEL, train_log=log)
    md = rep.markdown
    assert "step 200 has the highest codecontests_valid exec_success_rate" in md
    assert "| 200 * | 1 |" in md
    # phase 0 vs step 200: codecontests_valid accepted@1 +15.0 pp meets the +10-20 target
    assert "| codecontests_valid | acc@1 | 10.0 | 25.0 | +15.0 | +10 to +20 pp | met |" in md
    assert "| mbpp_reg | acc@1 | 60.0 | 62.0 | +2.0 | no regression (>= -2 pp) | met |" in md
    assert "not evaluated on humaneval" in md  # the best is a tier-1 row
    assert not rep.warnings
    assert {p.name for p in rep.plots} == {"metrics_per_step.png", "training_curves.png"}
    for p in rep.plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    assert (tmp_path / "rep" / "report.md").read_text() == md


def test_a_limit_run_is_kept_apart(outputs, tmp_path):
    """Proves a --limit quick check gets its own table: it is not a row of the evaluated checkpoints,
    not the best (though it scores highest and is the latest), and raises no fingerprint warning."""
    from coderl.report.build import build_report

    quick = {**row(400, 1, (0.99, 0.99), 0.99, fp="Q"), "limit": 5, "timestamp": "2026-11-28T10:00:00"}
    record_evaluation(outputs / "phase1_sft" / "eval_history.jsonl", quick)
    rep = build_report(outputs, tmp_path / "rep", SEL)
    checkpoints, quick_part = rep.markdown.split("## Quick checks (--limit runs)")
    assert "| phase1_sft | 400 |" not in checkpoints and "| phase1_sft | 400 | 1 | 5 |" in quick_part
    assert "step 200 has the highest codecontests_valid exec_success_rate" in rep.markdown
    assert not rep.warnings


def test_fingerprint_mismatch_and_missing_baseline_are_said(tmp_path):
    root = tmp_path / "outputs"
    h = root / "phase1_sft" / "eval_history.jsonl"
    record_evaluation(h, row(100, 1, (0.15, 0.50), 0.61, fp="A"))
    record_evaluation(h, row(200, 1, (0.25, 0.62), 0.62, fp="B"))
    out = tmp_path / "rep"
    assert main(["report", "--outputs-root", str(root), "--out", str(out), "--title", "Demo report"]) == 0
    md = (out / "report.md").read_text()
    assert md.startswith("# Demo report")
    assert "codecontests_valid was scored under 2 different eval fingerprints" in md
    assert "no Phase 0 baseline" in md and "no training log given" in md
    assert (out / "metrics_per_step.png").stat().st_size > 5000 and not (out / "training_curves.png").exists()


def test_empty_outputs_report_says_what_is_missing(tmp_path):
    from coderl.report.build import build_report

    rep = build_report(tmp_path / "nothing", tmp_path / "rep", SEL)
    assert rep.plots == [] and any("no evaluation history" in m for m in rep.missing)


def test_ckpt_root_metrics_jsonl_is_the_default_training_log(outputs, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        "".join(
            json.dumps(
                {"attempt": 1, "step": s, "time": "2026-11-27T10:00:00", "train/loss": 3.0 / s, "train/lr": 1e-5}
            )
            + "\n"
            for s in (1, 2, 3)
        )
    )
    out = tmp_path / "rep"
    assert main(["report", "--outputs-root", str(outputs), "--ckpt-root", str(run), "--out", str(out)]) == 0
    assert (out / "training_curves.png").stat().st_size > 5000
    assert "no training log" not in (out / "report.md").read_text()


def test_training_log_reads_console_verl_file_logger_and_flat_jsonl(tmp_path):
    p = tmp_path / "log"
    p.write_text(
        "(TaskRunner pid=1) step:3 - train/loss:1.5 - train/lr:3e-06\n"
        '{"step": 4, "data": {"train/loss": 1.25, "train/lr": 4e-06}}\n'
        '{"step": 4, "val/loss": 1.4}\n{"step": 5, "train/lo'
    )
    rows = parse_training_log(p)
    assert series(rows, "train_loss") == [(3, 1.5), (4, 1.25)]
    assert series(rows, "val_loss") == [(4, 1.4)] and series(rows, "lr") == [(3, 3e-06), (4, 4e-06)]


def test_without_matplotlib_the_report_has_its_tables_and_says_why_no_plots(outputs, tmp_path, monkeypatch):
    import sys

    from coderl.report.build import build_report

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import matplotlib` meets on a box without it
    rep = build_report(outputs, tmp_path / "rep", SEL, train_log=None)
    assert rep.plots == [] and not list((tmp_path / "rep").glob("*.png"))
    assert "| 200 * | 1 |" in rep.markdown
    assert "plots: matplotlib is not installed" in rep.markdown
