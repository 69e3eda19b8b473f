"""coderl eval-all / select on a checkpoint root, and the oracle on the offline data sets (CODERL_SHARED_DATA)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from coderl.checkpoints import discover_checkpoints
from coderl.cli import main
from coderl.evaluation.history import read_history

REPO = Path(__file__).resolve().parents[2]


def test_discovery_is_numeric_and_reports_missing_weights(tmp_path):
    for s in (1000, 200, 30):
        (tmp_path / f"global_step_{s}" / "huggingface").mkdir(parents=True)
    (tmp_path / "global_step_30" / "huggingface").rmdir()
    hf = tmp_path / "global_step_200" / "huggingface"  # discovery looks at the files, it does not load them
    (hf / "config.json").write_text("{}")
    (hf / "model.safetensors").write_bytes(b"")
    (tmp_path / "global_step_x").mkdir()
    found = discover_checkpoints(tmp_path)
    assert [c.step for c in found] == [30, 200, 1000]
    assert found[0].hf_dir is None and "no huggingface/ folder" in found[0].problem
    assert found[1].hf_dir is not None
    assert found[2].hf_dir is None and "no config.json" in found[2].problem


@pytest.fixture
def two_dataset_config(tmp_path) -> Path:
    """configs/ with tier 1 = humaneval and tier 3 = humaneval + mbpp_reg (both buildable offline);
    selection on humaneval."""
    d = tmp_path / "configs"
    d.mkdir()
    shutil.copy(REPO / "configs" / "prompts.yaml", d / "prompts.yaml")
    text = (REPO / "configs" / "eval.yaml").read_text()
    (d / "eval.yaml").write_text(text.replace("dataset: codecontests_valid", "dataset: humaneval"))
    import yaml

    ds = yaml.safe_load((REPO / "configs" / "datasets.yaml").read_text())
    ds["tiers"] = {1: ["humaneval"], 3: ["humaneval", "mbpp_reg"]}
    (d / "datasets.yaml").write_text(yaml.safe_dump(ds))
    return d / "eval.yaml"


@pytest.fixture(scope="module")
def raw_with_mbpp(tmp_path_factory, shared_data) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert (
        main(["data", "--datasets", "humaneval,mbpp_reg,codecontests_train300", "--raw-dir", str(d), "--offline"]) == 0
    )
    return d


@pytest.mark.slow
def test_eval_all_tiers_skips_and_resumes(tmp_path, tiny_model_dir, two_dataset_config, raw_with_mbpp, capsys):
    root = tmp_path / "ck"
    for s in (5, 10, 100):
        (root / f"global_step_{s}").mkdir(parents=True)
    for s in (10, 100):
        (root / f"global_step_{s}" / "huggingface").symlink_to(tiny_model_dir)
    out = tmp_path / "outputs"
    args = [
        "eval-all",
        "--ckpt-root",
        str(root),
        "--backend",
        "oracle",
        "--limit",
        "4",
        "--eval-config",
        str(two_dataset_config),
        "--raw-dir",
        str(raw_with_mbpp),
        "--out-root",
        str(out),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "step 5: SKIPPED, no huggingface/ folder" in printed
    assert "step 10: evaluated at tier 1" in printed and "step 100: evaluated at tier 3" in printed
    hist = out / "phase1_sft" / "eval_history.jsonl"
    rows = read_history(hist)
    assert [(r["step"], r["tier"], sorted(r["scores"])) for r in rows] == [
        (10, 1, ["humaneval"]),
        (100, 3, ["humaneval", "mbpp_reg"]),
    ]
    assert "best of phase1_sft: no full evaluation" in printed  # --limit quick checks are never selected

    assert main(args) == 0  # nothing new: both skipped, the history unchanged
    printed = capsys.readouterr().out
    assert printed.count("already in") == 2 and read_history(hist) == rows

    (root / "global_step_200").mkdir()
    (root / "global_step_200" / "huggingface").symlink_to(tiny_model_dir)
    assert main(args) == 0  # a new final checkpoint: tier 3; earlier ones stay as they are
    assert [(r["step"], r["tier"]) for r in read_history(hist)] == [(10, 1), (100, 3), (200, 3)]
    # --limit quick checks only: nothing is selected, and each row says why (the rule: test_selection_eval.py)
    best = json.loads((out / "phase1_sft" / "best_checkpoint.json").read_text())
    assert best["step"] is None and best["regression_check"]["status"] == "not_checked"
    assert sorted(e["step"] for e in best["excluded"] if "--limit 4 quick check" in e["reason"]) == [10, 100, 200]

    (out / "phase1_sft" / "best_checkpoint.json").unlink()
    capsys.readouterr()
    assert main(["select", "--out-root", str(out), "--eval-config", str(two_dataset_config)]) == 1
    assert "no full evaluation" in capsys.readouterr().out
    assert json.loads((out / "phase1_sft" / "best_checkpoint.json").read_text())["step"] is None


@pytest.mark.slow
def test_oracle_on_shared_data_sets_scores_the_reference_solutions(tmp_path, raw_with_mbpp):
    out = tmp_path / "outputs"
    assert (
        main(
            [
                "eval",
                "--model",
                "oracle",
                "--step",
                "0",
                "--backend",
                "oracle",
                "--phase",
                "phase0",
                "--datasets",
                "mbpp_reg,codecontests_train300",
                "--limit",
                "25",
                "--raw-dir",
                str(raw_with_mbpp),
                "--out-root",
                str(out),
            ]
        )
        == 0
    )
    m = json.loads((out / "phase0" / "step_0_limit25" / "metrics.json").read_text())["datasets"]
    assert m["mbpp_reg"]["accepted_at_1"] == 1.0
    # the re-packaged CodeContests solutions pass ~84% of problems with a bare runner (251/300: docs/performance.md)
    assert m["codecontests_train300"]["accepted_at_1"] >= 0.6 and m["codecontests_train300"]["n"] == 25
    assert m["codecontests_train300"]["verdicts"]["sandbox_error"] == 0
