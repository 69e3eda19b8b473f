"""Recipe -> verl overrides, batch split, validation messages, metric parsing, run-record refusals (fast)."""

from __future__ import annotations

import pytest

from coderl.errors import ConfigError, TrainingError
from coderl.training.console_metrics import parse_step_line
from coderl.training.recipe import batch_plan, hydra_value, load_recipe, recipe_to_overrides
from coderl.training.run_record import append_metrics, check_resumable, read_metrics


def _ov(overrides: list[str]) -> dict[str, str]:
    return dict(o.split("=", 1) for o in overrides)


def test_default_and_runbook_profiles_override_verl_defaults():
    for profile in ("default", "runbook"):
        r = load_recipe(profile)
        ov = _ov(recipe_to_overrides(r, gpus=4))
        # verl 0.9.1 defaults that differ from the runbook must be explicit
        assert ov["optim.lr"] == "2e-05" and ov["optim.lr_scheduler_type"] == "cosine"
        assert ov["optim.lr_warmup_steps_ratio"] == "0.05" and ov["optim.clip_grad"] == "1.0"
        assert ov["optim.weight_decay"] == "0.01"
        assert ov["engine.strategy"] == "fsdp2"
        assert ov["data.max_length"] == "4096" and ov["data.truncation"] == "error"
        assert ov["trainer.logger"] == "[console]"  # verl's default includes wandb
        assert ov["checkpoint.save_contents"] == "[model,optimizer,extra,hf_model]"
        assert ov["trainer.save_freq"] == "100" and ov["trainer.test_freq"] == "100"
        assert ov["trainer.resume_mode"] == "auto" and ov["trainer.total_epochs"] == "3"
        assert ov["data.train_batch_size"] == "16" and ov["data.ignore_input_ids_mismatch"] == "true"
        assert ov["model.path"] == "Qwen/Qwen2.5-Coder-7B-Instruct"
        assert ov["trainer.default_local_dir"].endswith("checkpoints/rlvr_coding_model/phase1_sft_qwen7b_coder")
    rb = _ov(recipe_to_overrides(load_recipe("runbook"), gpus=2))
    assert rb["data.micro_batch_size_per_gpu"] == "2" and rb["model.use_remove_padding"] == "false"
    # the runbook is stock verl; the default adds the varlen kernel and the chunked log-probs
    assert "model.external_lib" not in rb
    df = _ov(recipe_to_overrides(load_recipe("default"), gpus=2))
    assert df["model.external_lib"] == (
        "[coderl.training.in_verl.stock_export,coderl.training.in_verl.varlen_attn,"
        "coderl.training.in_verl.fast_logprobs,coderl.training.in_verl.token_balanced_dp]"
    )
    cpu = _ov(recipe_to_overrides(load_recipe("default"), gpus=1, device="cpu"))
    assert cpu["model.external_lib"] == (
        "[coderl.training.in_verl.stock_export,coderl.training.in_verl.fast_logprobs,coderl.training.in_verl.token_balanced_dp]"
    )


@pytest.mark.parametrize(
    "gpus,nnodes,per_gpu,micro,accum",
    [(1, 1, 16, 2, 8), (4, 1, 4, 2, 2), (8, 1, 2, 2, 1), (16, 1, 1, 1, 1), (4, 2, 2, 2, 1)],
)
def test_batch_plan_spreads_global_batch(gpus, nnodes, per_gpu, micro, accum):
    bp = batch_plan(load_recipe("runbook"), gpus, nnodes)
    assert (bp.per_gpu_batch, bp.micro_batch_size_per_gpu, bp.grad_accumulation) == (per_gpu, micro, accum)
    assert bp.world_size * bp.per_gpu_batch == 16


def test_global_batch_must_divide_by_world_size():
    with pytest.raises(
        ConfigError, match=r"global_batch_size=16 does not divide by the world size 3.*\[1, 2, 4, 8, 16\]"
    ):
        recipe_to_overrides(load_recipe("runbook"), gpus=3)


def test_validation_names_the_key(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("base: runbook\noptim:\n  lr: fast\n")
    with pytest.raises(ConfigError, match=r"r\.yaml: optim\.lr: expected a number, got str"):
        load_recipe(str(bad))
    with pytest.raises(ConfigError, match=r"unknown key 'batch\.global_batch'"):
        load_recipe({"base": "runbook", "batch": {"global_batch": 8}})
    with pytest.raises(ConfigError, match=r"training\.strategy: 'ddp' is not one of"):
        load_recipe({"base": "runbook", "training": {"strategy": "ddp"}})
    with pytest.raises(ConfigError, match=r"unknown training profile 'nosuch'.*available: .*runbook"):
        load_recipe("nosuch")
    with pytest.raises(ConfigError, match=r"missing section 'model'"):
        load_recipe({"name": "x"})


def test_cpu_overrides_and_passthrough(tmp_path):
    r = load_recipe({"base": "runbook", "model": {"path": str(tmp_path)}, "verl_overrides": ["engine.fsdp_size=-1"]})
    ov = recipe_to_overrides(r, gpus=2, device="cpu")
    d = _ov(ov)
    assert d["trainer.device"] == "cpu" and d["engine.use_torch_compile"] == "false"
    assert d["+model.override_config.attn_implementation"] == "sdpa"
    assert d["model.path"] == str(tmp_path)
    assert ov[-1] == "engine.fsdp_size=-1"  # expert overrides come last and win
    with pytest.raises(ConfigError, match="fsdp2"):
        recipe_to_overrides(load_recipe({"base": "runbook", "training": {"strategy": "fsdp"}}), 1, device="cpu")


def test_hydra_values_are_quoted_where_needed():
    assert hydra_value("/a/b-c_d.parquet") == "/a/b-c_d.parquet"
    assert hydra_value("/a/b c,d.parquet") == "'/a/b c,d.parquet'"
    assert hydra_value("null") == "'null'"
    assert hydra_value([0.9, 0.999]) == "[0.9,0.999]" and hydra_value(None) == "null"


def test_parse_step_lines_including_tqdm_prefix():
    line = "Epoch 1/3:   7%|7  | 1/14 [00:05<01:02, 5.1s/it]step:2 - train/loss:11.375 - train/grad_norm:4.4 - train/lr:1e-05"
    assert parse_step_line(line) == (2, {"train/loss": 11.375, "train/grad_norm": 4.4, "train/lr": 1e-05})
    assert parse_step_line("step:7 - val/loss:0.5\n") == (7, {"val/loss": 0.5})
    assert parse_step_line("Total training steps: 10,") is None


def test_metrics_latest_attempt_wins(tmp_path):
    append_metrics(tmp_path, 1, 1, {"train/loss": 3.0})
    append_metrics(tmp_path, 1, 2, {"train/loss": 2.5})
    append_metrics(tmp_path, 1, 2, {"val/loss": 2.7})
    append_metrics(tmp_path, 2, 2, {"train/loss": 2.4})  # resumed attempt re-ran step 2
    m = read_metrics(tmp_path)
    assert m[1]["train/loss"] == 3.0 and m[2]["train/loss"] == 2.4 and m[2]["attempt"] == 2
    assert "val/loss" not in m[2]


def _fake_ckpt(root, step, world):
    d = root / f"global_step_{step}"
    d.mkdir(parents=True)
    for r in range(world):
        (d / f"model_world_size_{world}_rank_{r}.pt").write_bytes(b"x")
    (root / "latest_checkpointed_iteration.txt").write_text(str(step))


def test_resume_refusals(tmp_path):
    assert check_resumable(tmp_path, world_size=2, total_steps=10, resume="auto") == 0
    _fake_ckpt(tmp_path, 5, world=2)
    assert check_resumable(tmp_path, world_size=2, total_steps=10, resume="auto") == 5
    with pytest.raises(TrainingError, match=r"written by 2 processes, this launch has 4.*GPUS=2"):
        check_resumable(tmp_path, world_size=4, total_steps=10, resume="auto")
    with pytest.raises(TrainingError, match="resume is 'disable'"):
        check_resumable(tmp_path, world_size=2, total_steps=10, resume="disable")
    _fake_ckpt(tmp_path, 10, world=2)
    with pytest.raises(TrainingError, match=r"already finished \(checkpoint at step 10, last step 10\)"):
        check_resumable(tmp_path, world_size=2, total_steps=10, resume="auto")


def test_train_cli_dry_run_prints_config_and_command(tmp_path):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "train",
            "--dry-run",
            "--gpus",
            "4",
            "--recipe",
            "runbook",
            "trainer.logger=[console,wandb]",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "global 16 = 4 x 4 per GPU; micro 2 x accumulation 2" in out
    assert "--nproc_per_node=4" in out and out.rstrip().endswith("'trainer.logger=[console,wandb]'")
