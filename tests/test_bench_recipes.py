"""bench-train's recipes are the recipes `make train` runs: deltas on configs/sft*.yaml through recipe_to_overrides.

Each bench run's overrides are composed into verl 0.9.1's own SFT config (hydra, sft_trainer_engine),
so two override lists that spell the same setting differently compare equal, and a setting one
list leaves at verl's default and the other sets explicitly to that default does too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coderl.training import bench, bench_recipes

MODEL, DATA, CKPT = Path("/models/m"), Path("/data/train.parquet"), Path("/ckpt/x")
# imported by verl only to keep the attention choice out of the saved HF config: no effect on training
EXPORT_ONLY = "coderl.training.stock_export"
VARLEN = "coderl.training.varlen_attn"


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


def _diff(a: dict, b: dict, path: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k, "<absent>"), b.get(k, "<absent>")
        if isinstance(x, dict) and isinstance(y, dict):
            out += _diff(x, y, f"{path}{k}.")
        elif x != y:
            out.append(f"{path}{k}: hand-written {x!r} != derived {y!r}")
    return out


@pytest.mark.parametrize("device", ["cuda", "cpu"])
@pytest.mark.parametrize("name", list(bench_recipes.BENCH_RECIPES))
def test_hand_written_bench_overrides_equal_the_derived_recipe(name, device):
    tok, gb, ml = (16384, bench.GLOBAL_BATCH, bench.MAX_LENGTH) if device == "cuda" else (8192, 4, 512)
    hand = (bench._common(MODEL, DATA, 2, 20, CKPT, device, gb, ml) + bench.recipe_overrides(name, tok, device)
            + [f"trainer.experiment_name={name}"])
    derived = bench_recipes.bench_overrides(name, model=MODEL, data=DATA, n_gpus=2, steps=20, ckpt_dir=CKPT,
                                            device=device, tok_per_gpu=tok, global_batch=gb, max_length=ml)
    assert not _diff(_compose(hand), _compose(derived)), "\n".join(_diff(_compose(hand), _compose(derived)))
