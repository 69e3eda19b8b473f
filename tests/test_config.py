"""Eval config validation: clear errors naming the key; a stable fingerprint of what affects scores."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from coderl.config import load_eval_config
from coderl.errors import ConfigError
from coderl.paths import configs_dir


@pytest.fixture()
def cfg_dir(tmp_path: Path) -> Path:
    for name in ("eval.yaml", "prompts.yaml", "datasets.yaml"):
        shutil.copy(configs_dir() / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, fn) -> None:
    d = yaml.safe_load(path.read_text())
    fn(d)
    path.write_text(yaml.safe_dump(d))


def test_defaults_match_the_runbook(eval_config):
    assert eval_config.generation["temperature"] == 0.0
    assert eval_config.generation["top_p"] == 1.0
    assert eval_config.generation["max_new_tokens"] == 2048
    assert eval_config.sandbox["run_timeout_s"] == 30
    assert eval_config.sandbox["memory_limit_mb"] == 1024
    assert eval_config.tier_datasets(1) == ["codecontests_valid", "mbpp_reg"]
    assert set(eval_config.tier_datasets(3)) == {
        "codecontests_valid",
        "mbpp_reg",
        "codecontests_valid_big",
        "codecontests_test",
        "humaneval",
    }


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d["generation"].__setitem__("temperature", "zero"), "generation.temperature: expected a number"),
        (
            lambda d: d["generation"].__setitem__("max_new_tokens", 2048.5),
            "generation.max_new_tokens: expected an integer",
        ),
        (lambda d: d["generation"].__setitem__("top_p", 1.5), "generation.top_p: 1.5 is out of range"),
        (
            lambda d: d["sandbox"].__setitem__("memory_limit_mb", True),
            "sandbox.memory_limit_mb: expected an integer, got a boolean",
        ),
        (lambda d: d["sandbox"].__setitem__("run_timeout_s", -1), "sandbox.run_timeout_s: -1 is out of range"),
        (lambda d: d["sandbox"].pop("run_timeout_s"), "sandbox.run_timeout_s: missing required key"),
        (lambda d: d.pop("judge"), "missing section 'judge'"),
        (lambda d: d["judge"].__setitem__("stdio_compare", "fuzzy"), "judge.stdio_compare: 'fuzzy' is not one of"),
        (lambda d: d["generation"].__setitem__("temprature", 0.0), "unknown key 'generation.temprature'"),
        (lambda d: d.__setitem__("extra", 1), "unknown key(s) extra"),
    ],
)
def test_bad_values_name_the_key(cfg_dir, mutate, needle):
    _edit(cfg_dir / "eval.yaml", mutate)
    with pytest.raises(ConfigError) as e:
        load_eval_config(cfg_dir / "eval.yaml")
    assert needle in str(e.value)
    assert str(cfg_dir / "eval.yaml") in str(e.value)


def test_missing_file_and_bad_yaml(tmp_path, cfg_dir):
    with pytest.raises(ConfigError, match="eval config not found"):
        load_eval_config(tmp_path / "nope.yaml")
    (cfg_dir / "eval.yaml").write_text("generation: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_eval_config(cfg_dir / "eval.yaml")


def test_tier_naming_unknown_dataset(cfg_dir):
    _edit(cfg_dir / "datasets.yaml", lambda d: d["tiers"].__setitem__(1, ["nope"]))
    with pytest.raises(ConfigError, match="tiers.1: unknown dataset 'nope'"):
        load_eval_config(cfg_dir / "eval.yaml")


def test_unknown_tier(eval_config):
    with pytest.raises(ConfigError, match="tier 7 is not defined"):
        eval_config.tier_datasets(7)


def test_fingerprint_is_stable_and_tracks_what_affects_scores(cfg_dir):
    a = load_eval_config(cfg_dir / "eval.yaml")
    assert a.fingerprint() == load_eval_config(cfg_dir / "eval.yaml").fingerprint()
    # serving knobs do not change scores: same fingerprint
    _edit(cfg_dir / "eval.yaml", lambda d: d["serving"].__setitem__("concurrency", 8))
    assert load_eval_config(cfg_dir / "eval.yaml").fingerprint() == a.fingerprint()
    # a generation parameter does
    _edit(cfg_dir / "eval.yaml", lambda d: d["generation"].__setitem__("max_new_tokens", 1024))
    b = load_eval_config(cfg_dir / "eval.yaml")
    assert b.fingerprint() != a.fingerprint()
    # so does the prompt text
    _edit(cfg_dir / "prompts.yaml", lambda d: d.__setitem__("system", "Be brief."))
    assert load_eval_config(cfg_dir / "eval.yaml").fingerprint() != b.fingerprint()
    # and the dataset manifests
    assert a.fingerprint({"humaneval": "x"}) != a.fingerprint({"humaneval": "y"})
    assert a.fingerprint({"a": "1", "b": "2"}) == a.fingerprint({"b": "2", "a": "1"})


def test_sandbox_pool_is_an_execution_setting_outside_the_fingerprint(cfg_dir):
    from coderl.sandbox.local import executor_from_config

    base = load_eval_config(cfg_dir / "eval.yaml")
    _edit(cfg_dir / "eval.yaml", lambda d: d["execution"].update(sandbox_pool=False, sandbox_pool_max_executions=5))
    cfg = load_eval_config(cfg_dir / "eval.yaml")
    assert cfg.execution["sandbox_pool"] is False
    assert cfg.fingerprint() == base.fingerprint()  # how code runs, not what is scored
    ex = executor_from_config(cfg)
    assert ex.describe()["pooled"] is False
    _edit(cfg_dir / "eval.yaml", lambda d: d["execution"].update(sandbox_pool="yes"))
    with pytest.raises(ConfigError, match="execution.sandbox_pool"):
        load_eval_config(cfg_dir / "eval.yaml")
