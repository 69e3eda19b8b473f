"""configs/rl.yaml -> verl main_ppo overrides (checked against verl's own config schema), best_sft, the RL plan,
the overlong-masked GRPO estimator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from coderl import cli
from coderl.errors import ConfigError, DataError
from coderl.rl.recipe import load_rl_recipe, resolve_start_model, rl_overrides, world_plan


def kv(overrides: list[str]) -> dict[str, str]:
    return dict(o.lstrip("+").split("=", 1) for o in overrides)


def test_default_recipe_is_the_published_grpo_recipe():
    r = load_rl_recipe("default")
    o = kv(rl_overrides(r, gpus=4, model_path="/m"))
    A, R = "actor_rollout_ref.actor", "actor_rollout_ref.rollout"
    assert o["algorithm.adv_estimator"] == "coderl_grpo_overlong_masked"  # GRPO + overlong masking
    assert o[f"{A}.use_kl_loss"] == "false" and o["algorithm.use_kl_in_reward"] == "false"  # no KL, no reference
    assert (o[f"{A}.clip_ratio_low"], o[f"{A}.clip_ratio_high"]) == ("0.2", "0.28")  # clip-higher
    assert o[f"{A}.optim.lr"] == "1e-06" and o[f"{R}.n"] == "16" and o[f"{R}.name"] == "vllm"
    assert o[f"{A}.loss_agg_mode"] == "token-mean" and o[f"{A}.entropy_coeff"] == "0.0"
    assert o["reward.custom_reward_function.path"] == "pkg://coderl.reward"
    assert o["reward.custom_reward_function.reward_kwargs.mode"] == "binary"
    assert o[f"{A}.checkpoint.save_contents"] == "[model,optimizer,extra,hf_model]"  # HF export in every checkpoint
    assert o["trainer.default_local_dir"].endswith("checkpoints/rlvr_coding_model/phase2_rl_qwen7b_coder")
    assert o["trainer.use_v1"] == "false" and o["trainer.n_gpus_per_node"] == "4"
    assert o["actor_rollout_ref.model.path"] == "/m"


@pytest.mark.parametrize("device", ["cuda", "cpu"])
def test_every_override_is_accepted_by_verls_config(device):
    """Compose verl 0.9.1's ppo_trainer config with our overrides: a misspelt key fails here, not on a GPU box."""
    import verl.trainer.main_ppo as main_ppo
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from coderl.rl.launch import ray_overrides

    r = load_rl_recipe("default")
    ov = [*rl_overrides(r, gpus=2, device=device, model_path="/m"), *ray_overrides(2, device)]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(main_ppo.__file__).parent / "config"), version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=ov)
    assert cfg.actor_rollout_ref.actor.clip_ratio_high == 0.28
    assert cfg.actor_rollout_ref.rollout.name == ("vllm" if device == "cuda" else "coderl_hf")
    assert cfg.reward.custom_reward_function.reward_kwargs.mode == "binary"
    assert cfg.trainer.device == device


def test_validation_names_the_key():
    base = {"base": "default"}
    with pytest.raises(ConfigError, match=r"rollout.n=1: GRPO needs at least 2"):
        load_rl_recipe({**base, "rollout": {"n": 1}})
    with pytest.raises(ConfigError, match=r"clip_high must be >= clip_low"):
        load_rl_recipe({**base, "algorithm": {"clip_high": 0.1}})
    with pytest.raises(ConfigError, match=r"prompts_per_step=30 must be a multiple of batch.mini_batch_prompts=32"):
        load_rl_recipe({**base, "batch": {"prompts_per_step": 30}})
    with pytest.raises(ConfigError, match=r"unknown key 'rollout.beams'"):
        load_rl_recipe({**base, "rollout": {"beams": 2}})
    with pytest.raises(ConfigError, match=r"reward.mode"):
        load_rl_recipe({**base, "reward": {"mode": "partial"}})
    r = load_rl_recipe({**base, "batch": {"prompts_per_step": 3, "mini_batch_prompts": 3}, "rollout": {"n": 2}})
    with pytest.raises(ConfigError, match=r"6 answers per update do not divide by 4 GPUs"):
        world_plan(r, 4)
    with pytest.raises(ConfigError, match="CPU test engine"):
        rl_overrides(load_rl_recipe({**base, "rollout": {"engine": "coderl_hf"}}), 1, device="cuda", model_path="/m")


def test_best_sft_start_model(tmp_path, tiny_model_dir):
    best = tmp_path / "best_checkpoint.json"
    r = load_rl_recipe({"base": "default", "model": {"best_sft_file": str(best)}})
    with pytest.raises(DataError, match="does not exist: evaluate the SFT checkpoints first"):
        resolve_start_model(r)
    best.write_text(json.dumps({"step": None, "checkpoint": None, "explanation": "no evaluation yet"}))
    with pytest.raises(DataError, match="no checkpoint selected yet"):
        resolve_start_model(r)
    step = tmp_path / "run" / "global_step_40"
    (step / "huggingface").mkdir(parents=True)
    for f in tiny_model_dir.iterdir():
        (step / "huggingface" / f.name).symlink_to(f)
    best.write_text(json.dumps({"step": 40, "checkpoint": str(step)}))
    assert resolve_start_model(r) == str(step / "huggingface")
    assert (
        resolve_start_model(load_rl_recipe({"base": "default", "model": {"path": "Qwen/Qwen2.5-Coder-7B-Instruct"}}))
        == "Qwen/Qwen2.5-Coder-7B-Instruct"
    )


def test_rl_plan_memory_and_time(capsys):
    from coderl.rl.plan import make_rl_plan

    r = load_rl_recipe("default")
    one = make_rl_plan(r, "Qwen/Qwen2.5-Coder-7B-Instruct", 1, 141)
    two = make_rl_plan(r, "Qwen/Qwen2.5-Coder-7B-Instruct", 2, 141)
    assert not one.fits and two.fits  # 16 B/param of actor state alone is 122 GB on one GPU
    assert two.actor_state_gb == pytest.approx(one.actor_state_gb / 2)
    assert two.ref_gb == 0.0  # no KL term: no reference model
    with_kl = make_rl_plan(
        load_rl_recipe({"base": "default", "algorithm": {"kl_coef": 0.001}}), "Qwen/Qwen2.5-Coder-7B-Instruct", 2, 141
    )
    assert with_kl.ref_gb == pytest.approx(2 * 7.6e9 / 2 / 1e9, rel=0.01)
    assert two.kv_tokens > 0 and two.full_length_answers_in_kv == two.kv_tokens // 6144
    assert two.answers_per_step == 512 and two.rollout_s == pytest.approx(512 * 600 / (2500 * 2))
    assert two.reward_s > 0 and "bench_reward_" in two.reward_basis
    rc = cli.main(["plan", "--rl", "--gpus", "2", "--gpu-mem-gb", "141"])
    out = capsys.readouterr().out
    assert rc == 0 and "FITS" in out and "rollout phase" in out and "reward ~" in out
    assert cli.main(["plan", "--rl", "--gpus", "1", "--gpu-mem-gb", "141"]) == 1


def test_overlong_masked_grpo_zeroes_truncated_answers_only():
    from verl.trainer.ppo import core_algos

    import coderl.rl.overlong as ov

    L = 5
    lengths = [5, 3, 5, 2, 4, 1]  # answers 0 and 2 fill the window: truncated
    mask = torch.tensor([[1.0] * n + [0.0] * (L - n) for n in lengths])
    rewards = torch.zeros(6, L)
    for i, (n, s) in enumerate(zip(lengths, [0, 1, 1, 0, 1, 0])):
        rewards[i, n - 1] = s
    index = np.array(["a", "a", "a", "b", "b", "b"])
    fn = core_algos.get_adv_estimator_fn(ov.NAME)
    adv, _ = fn(token_level_rewards=rewards, response_mask=mask, index=index, config=None)
    ref, _ = core_algos.compute_grpo_outcome_advantage(rewards, mask, index)
    assert torch.all(adv[[0, 2]] == 0)  # no gradient from truncated answers
    assert torch.equal(adv[[1, 3, 4, 5]], ref[[1, 3, 4, 5]]) and adv[1].abs().sum() > 0


def test_resume_bookkeeping_reads_rl_checkpoints(tmp_path):
    """verl's RL layout (global_step_N/actor/...) drives the same refusals as SFT, before anything is launched."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from coderl.errors import TrainingError
    from coderl.rl.launch import rl_total_steps, rl_train

    data = tmp_path / "train.parquet"
    pq.write_table(pa.table({"x": list(range(5))}), data)
    recipe = {
        "base": "default",
        "model": {"path": "Qwen/Qwen2.5-Coder-7B-Instruct"},
        "data": {"train_files": str(data), "val_files": None},
        "batch": {"prompts_per_step": 2, "mini_batch_prompts": 2},
        "training": {"epochs": 2},
    }
    assert rl_total_steps(load_rl_recipe(recipe)) == 4  # 5 prompts -> 2 full steps per epoch
    assert rl_total_steps(load_rl_recipe({**recipe, "training": {"epochs": 2, "max_steps": 9}})) == 4
    run = tmp_path / "run"
    (run / "global_step_2" / "actor").mkdir(parents=True)
    (run / "global_step_2" / "actor" / "model_world_size_1_rank_0.pt").write_bytes(b"")
    (run / "latest_checkpointed_iteration.txt").write_text("2")
    with pytest.raises(TrainingError, match="written by 1 processes, this launch has 2"):
        rl_train(recipe, gpus=2, device="cpu", run_dir=run, echo="none", disk_check=False)
    (run / "global_step_4" / "actor").mkdir(parents=True)
    (run / "global_step_4" / "actor" / "model_world_size_1_rank_0.pt").write_bytes(b"")
    (run / "latest_checkpointed_iteration.txt").write_text("4")
    with pytest.raises(TrainingError, match="already finished"):
        rl_train(recipe, gpus=1, device="cpu", run_dir=run, echo="none", disk_check=False)
    with pytest.raises(TrainingError, match="'disable'"):
        rl_train({**recipe, "checkpoint": {"resume": "disable"}}, gpus=1, device="cpu", run_dir=run, echo="none")


def test_rl_step_lines_with_numpy_values_are_parsed():
    from coderl.training.console_metrics import parse_step_line

    line = (
        "\x1b[36m(TaskRunner pid=7)\x1b[0m step:3 - actor/pg_loss:np.float64(-0.25) - critic/score/mean:0.5 - "
        "timing_s/agent_loop/num_preempted/min:np.int64(-1) - perf/total_num_tokens:4808\n"
    )
    assert parse_step_line(line) == (
        3,
        {
            "actor/pg_loss": -0.25,
            "critic/score/mean": 0.5,
            "timing_s/agent_loop/num_preempted/min": -1.0,
            "perf/total_num_tokens": 4808.0,
        },
    )
