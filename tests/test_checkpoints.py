"""coderl.checkpoints: verl 0.9.1's checkpoint layout on real folders (SFT and RL), as training,
pruning, evaluation and serving read it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from coderl.checkpoints import (
    LATEST_FILE,
    Checkpoint,
    discover_checkpoints,
    latest_checkpoint,
    latest_step,
    list_checkpoints,
    resolve_model_dir,
    step_of,
)
from coderl.errors import DataError, GenerationError
from coderl.generation.vllm_server import model_source


def hf_export(d: Path, weights: bool = True) -> Path:
    """A Hugging Face folder as verl's hf_model save writes it: config.json + safetensors weights."""
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model_type": "qwen2", "torch_dtype": "float32"}))
    if weights:
        save_file({"lm_head.weight": torch.zeros(4, 2)}, str(d / "model.safetensors"))
    return d


def verl_step(root: Path, step: int, world: int = 2, rl: bool = False, hf: bool = True, optim: bool = True) -> Path:
    """global_step_N as verl's FSDP checkpoint manager writes it (under actor/ for the RL trainer)."""
    path = root / f"global_step_{step}"
    shards = path / "actor" if rl else path
    shards.mkdir(parents=True)
    kinds = ["model", "extra_state"] + (["optim"] if optim else [])
    for rank in range(world):
        for kind in kinds:
            torch.save({"rank": rank}, shards / f"{kind}_world_size_{world}_rank_{rank}.pt")
    (shards / "fsdp_config.json").write_text(json.dumps({"world_size": world}))
    if rl:
        torch.save({}, path / "data.pt")
    if hf:
        hf_export(shards / "huggingface")
    return path


def test_steps_are_listed_in_numeric_order_and_other_names_ignored(tmp_path):
    for s in (1000, 100, 20):
        verl_step(tmp_path, s)
    (tmp_path / "global_step_7").write_text("a file, not a checkpoint")
    (tmp_path / "global_step_x").mkdir()
    (tmp_path / "global_step_5.tmp").mkdir()
    assert [c.step for c in list_checkpoints(tmp_path)] == [20, 100, 1000]
    assert list_checkpoints(tmp_path / "missing") == []
    with pytest.raises(DataError, match="checkpoint root not found: .*CKPT_ROOT"):
        discover_checkpoints(tmp_path / "missing")
    assert step_of("a/global_step_12") == 12 and step_of("a/global_step_12/huggingface") is None


def test_sft_and_rl_layouts(tmp_path):
    sft = Checkpoint(5, verl_step(tmp_path / "sft", 5, world=4))
    rl = Checkpoint(2, verl_step(tmp_path / "rl", 2, world=1, rl=True, optim=False))
    assert sft.shard_dir == sft.path and sft.hf_dir == sft.path / "huggingface" and sft.problem == ""
    assert rl.shard_dir == rl.path / "actor" and rl.hf_dir == rl.path / "actor" / "huggingface"
    assert (sft.world_size(), rl.world_size()) == (4, 1)
    assert sft.has_optimizer() and not rl.has_optimizer()
    assert [p.name for p in sft.shard_files("optim")] == [f"optim_world_size_4_rank_{r}.pt" for r in range(4)]
    assert sft.size_bytes() == sum(p.stat().st_size for p in sft.path.rglob("*") if p.is_file()) > 0


def test_mixed_world_sizes_are_refused(tmp_path):
    ck = Checkpoint(3, verl_step(tmp_path, 3, world=2))
    torch.save({}, ck.path / "model_world_size_4_rank_0.pt")  # a relaunch with 4 GPUs wrote over it
    with pytest.raises(DataError, match=r"several world sizes \[2, 4\]"):
        ck.world_size()


def test_an_export_without_weights_is_not_loadable_and_says_why(tmp_path):
    no_hf = Checkpoint(1, verl_step(tmp_path, 1, hf=False))
    no_weights = Checkpoint(2, verl_step(tmp_path, 2, hf=False))
    hf_export(no_weights.path / "huggingface", weights=False)
    assert no_hf.hf_dir is None and "no huggingface/ folder" in no_hf.problem
    assert no_weights.hf_dir is None and "no config.json with" in no_weights.problem
    assert no_hf.export_dir == no_hf.path / "huggingface"  # where verl would write it (prune converts there)
    with pytest.raises(DataError, match="global_step_1: no huggingface/ folder"):
        resolve_model_dir(no_hf.path)
    with pytest.raises(DataError, match="global_step_2: huggingface/ has no config.json with"):
        resolve_model_dir(no_weights.path)
    # a server launcher leaves the weights to the server: config.json is enough there
    assert resolve_model_dir(no_weights.path, need_weights=False) == (no_weights.path / "huggingface", 2)


def test_latest_completed_step(tmp_path):
    assert latest_step(tmp_path) is None and latest_checkpoint(tmp_path) is None
    verl_step(tmp_path, 4)
    (tmp_path / LATEST_FILE).write_text("4\n")
    assert latest_step(tmp_path) == 4 and latest_checkpoint(tmp_path) == Checkpoint(4, tmp_path / "global_step_4")
    (tmp_path / LATEST_FILE).write_text("6")  # the folder is gone (deleted by hand)
    assert latest_step(tmp_path) == 6 and latest_checkpoint(tmp_path) is None
    (tmp_path / LATEST_FILE).write_text("step 4")
    with pytest.raises(DataError, match=f"{LATEST_FILE}: expected a step number, found 'step 4'"):
        latest_step(tmp_path)


def test_resolve_every_way_of_naming_a_model(tmp_path):
    sft = verl_step(tmp_path / "sft", 10)
    rl = verl_step(tmp_path / "rl", 3, rl=True)
    plain = hf_export(tmp_path / "my_model")
    assert resolve_model_dir(sft) == (sft / "huggingface", 10)
    assert resolve_model_dir(rl) == (rl / "actor" / "huggingface", 3)
    assert resolve_model_dir(sft / "huggingface") == (sft / "huggingface", 10)
    assert resolve_model_dir(plain) == (plain, None)
    with pytest.raises(DataError, match="checkpoint folder not found"):
        resolve_model_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="neither a global_step_<N> folder nor a Hugging Face model folder"):
        resolve_model_dir(tmp_path / "empty")


def test_serving_loads_the_same_folder_and_passes_hub_ids(tmp_path):
    """The server gets the folder evaluation would load, RL's actor/huggingface included, as an absolute path."""
    rl = verl_step(tmp_path / "rl", 3, rl=True)
    assert model_source(str(rl)) == str((rl / "actor" / "huggingface").resolve())
    assert model_source("Qwen/Qwen2.5-Coder-7B-Instruct") == "Qwen/Qwen2.5-Coder-7B-Instruct"
    with pytest.raises(GenerationError, match="model folder not found: ./gone"):
        model_source("./gone")
