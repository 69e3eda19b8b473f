"""bench-train's recipes are the recipes `make train` runs: deltas on configs/sft*.yaml through recipe_to_overrides.

(Before the hand-written override sets were deleted, this file showed them equal to the derived
ones for all 12 recipes on cuda and cpu: commit a2b20a3.) Each run's overrides are composed into
verl 0.9.1's own SFT config (hydra, sft_trainer_engine), so two override lists that spell the same setting differently compare equal, and a setting one
list leaves at verl's default and the other sets explicitly to that default does too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coderl.training.benchmarks import bench_recipes

MODEL, DATA, CKPT = Path("/models/m"), Path("/data/train.parquet"), Path("/ckpt/x")
# imported by verl only to keep the attention choice out of the saved HF config: no effect on training
EXPORT_ONLY = "coderl.training.in_verl.stock_export"
VARLEN = "coderl.training.in_verl.varlen_attn"


def _compose(overrides: list[str]) -> dict:
    import verl
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    config_dir = os.path.join(os.path.dirname(verl.__file__), "trainer", "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = OmegaConf.to_container(compose(config_name="sft_trainer_engine", overrides=overrides), resolve=False)
    libs = set(cfg["model"].get("external_lib") or []) - {EXPORT_ONLY}
    if cfg["model"].get("override_config", {}).get("attn_implementation") != "coderl_varlen":
        libs.discard(VARLEN)  # it only registers an attention implementation that this run does not select
    # import order is irrelevant: each module patches a different verl function
    cfg["model"]["external_lib"] = sorted(libs) or None
    return cfg


# What `make bench-train` owns; everything else comes from the recipe `make train` runs.
BENCH_OWNED = {
    "trainer.total_epochs",
    "trainer.total_training_steps",
    "trainer.save_freq",
    "trainer.test_freq",
    "trainer.resume_mode",
    "trainer.project_name",
    "trainer.experiment_name",
    "trainer.default_local_dir",
    "checkpoint.save_contents",
    "data.val_files",
}


def _leaves(d: dict, path: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_leaves(v, f"{path}{k}.") if isinstance(v, dict) else {f"{path}{k}": v})
    return out


@pytest.mark.parametrize("profile", ["default", "runbook"])
def test_bench_runs_what_make_train_runs_apart_from_what_it_owns(profile):
    """bench 'default' is configs/sft.yaml as `make train` maps it; bench 'runbook' adds only sdpa attention."""
    from coderl.training.recipe import load_recipe, recipe_to_overrides

    train = load_recipe({"base": profile, "model": {"path": str(MODEL)}, "data": {"train_files": str(DATA)}})
    if profile == "runbook":  # the boxes have no flash-attn (verl's default attention)
        train["model"]["attn_implementation"] = "sdpa"
    made = _leaves(_compose(recipe_to_overrides(train, 2)))
    benched = _leaves(
        _compose(
            bench_recipes.bench_overrides(
                profile, model=MODEL, data=DATA, n_gpus=2, steps=20, ckpt_dir=CKPT, device="cuda", tok_per_gpu=16384
            )
        )
    )
    differ = {k for k in set(made) | set(benched) if made.get(k) != benched.get(k)}
    assert differ <= BENCH_OWNED, sorted(differ - BENCH_OWNED)
    assert "trainer.save_freq" in differ  # and the check can see a difference
