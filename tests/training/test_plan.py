"""Memory/disk planner: parameter counts, calibration against measured numbers, verdicts and fixes (fast)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from coderl.errors import ConfigError
from coderl.training.plan import Workload, checkpoint_steps, disk_plan, make_plan, memory_plan, model_shape


@pytest.mark.parametrize(
    "size,published_b", [("0.5B", 0.494), ("1.5B", 1.544), ("3B", 3.086), ("7B", 7.616), ("14B", 14.77), ("32B", 32.76)]
)
def test_known_shapes_match_published_parameter_counts(size, published_b):
    for family in ("Qwen2.5", "Qwen2.5-Coder"):
        p = model_shape(f"Qwen/{family}-{size}-Instruct").params() / 1e9
        assert p == pytest.approx(published_b, rel=0.01)


def test_calibrated_on_measured_7b_two_gpus():
    # docs/hardware.md, Calibration: 7.6B full fine-tuning used 71 GB per GPU on 2 GPUs (micro batch 2, mean 1,343 tokens)
    m = memory_plan(model_shape("Qwen/Qwen2.5-Coder-7B-Instruct"), Workload(gpus=2, gpu_mem_gb=141))
    assert m.params_gb + m.grads_gb + m.optimizer_gb == pytest.approx(16 * 7.616 / 2, rel=0.01)
    assert m.total_typical_gb == pytest.approx(71, abs=4)
    # and it did not fit one 141 GB GPU
    assert not memory_plan(model_shape("Qwen/Qwen2.5-Coder-7B-Instruct"), Workload(gpus=1, gpu_mem_gb=141)).fits


def test_runbook_table_4x32gb_does_not_fit_without_offload():
    p = make_plan("Qwen/Qwen2.5-Coder-7B-Instruct", Workload(gpus=4, gpu_mem_gb=32))
    assert not p.memory.fits and not p.memory.fits_typical
    assert p.verdict.startswith("DOES NOT FIT") and "30.4 GB usable" in p.verdict
    assert p.memory.total_peak_gb > 45
    offload = [f for f in p.fixes if "cpu_offload" in f]
    assert offload and offload[0].startswith("fits")
    assert memory_plan(
        model_shape("Qwen/Qwen2.5-Coder-7B-Instruct"), Workload(gpus=4, gpu_mem_gb=32, cpu_offload=True)
    ).fits


def test_disk_per_checkpoint_and_run():
    shape = model_shape("Qwen/Qwen2.5-Coder-7B-Instruct")
    d = disk_plan(shape, total_steps=378, save_freq=100, free_bytes=200 * 10**9)
    assert d.per_checkpoint_gb == pytest.approx(120, rel=0.05)  # measured ~120 GB
    assert d.saves == 4 and checkpoint_steps(378, 100) == [100, 200, 300, 378]
    assert d.fits is False and d.run_total_gb == pytest.approx(4 * d.per_checkpoint_gb)
    assert d.run_total_pruned_gb < d.run_total_gb
    d2 = disk_plan(shape, total_steps=378, save_freq=100, max_to_keep=1, free_bytes=200 * 10**9)
    assert d2.kept == 1 and d2.fits is True
    assert disk_plan(shape, 378, 100, start_step=300).saves == 1  # a resumed run only needs what is left


def test_local_config_and_unknown_model(tiny_model_dir):
    s = model_shape(str(tiny_model_dir))
    assert s.hidden == 128 and s.tied
    with pytest.raises(ConfigError, match="unknown model 'Llama-9B'"):
        model_shape("Llama-9B")


def test_plan_cli_json():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "plan",
            "--gpus",
            "4",
            "--gpu-mem-gb",
            "32",
            "--model",
            "Qwen/Qwen2.5-Coder-7B-Instruct",
            "--steps",
            "378",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1, r.stderr  # does not fit -> non-zero exit
    d = json.loads(r.stdout)
    assert d["memory"]["fits"] is False and d["disk"]["saves"] == 4 and d["params_b"] == pytest.approx(7.616, rel=0.01)


def test_launch_refuses_checkpoints_that_cannot_fit(tmp_path):
    from coderl.errors import TrainingError
    from coderl.training.plan import checkpoint_disk_check
    from coderl.training.recipe import load_recipe

    # 32B: 4 saves x 16 B/param = 2.1 TB, more than any test machine's free disk
    recipe = load_recipe({"base": "runbook", "model": {"path": "Qwen/Qwen2.5-32B-Instruct"}})
    with pytest.raises(TrainingError, match=r"will not fit on the disk .* 4 more save\(s\) x 524\.2 GB"):
        checkpoint_disk_check(recipe, tmp_path, world_size=8, total_steps=378, start_step=0)
    # a tiny model's checkpoints fit anywhere
    small = load_recipe({"base": "runbook", "model": {"path": "Qwen/Qwen2.5-0.5B-Instruct"}})
    d = checkpoint_disk_check(small, tmp_path, world_size=1, total_steps=10, start_step=5)
    assert d is not None and d.fits and d.saves == 1
