"""End-to-end: the real verl 0.9.1 SFT trainer on CPU (gloo), tiny random-init Qwen2, real Qwen tokenizer.

One uninterrupted reference run; one run interrupted with Ctrl-C after its first checkpoint,
refused with another process count, resumed (its losses must equal the reference's), refused
once finished; the smoke checklist and prune-ckpt on the reference; a 2-process run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from coderl.errors import TrainingError
from coderl.training.checkpoints import latest_step
from coderl.training.launch import train
from coderl.training.prune import prune
from coderl.training.run_record import RunRecord, read_metrics
from coderl.training.smoke import check_run
from coderl.training.toy_data import write_toy_sft

pytestmark = pytest.mark.slow

STEPS, SAVE = 4, 2  # small: each CPU step of the tiny model costs seconds on 2 shared cores


def _recipe(model: Path, data: tuple[Path, Path], batch: int = 2) -> dict:
    return {"base": "runbook", "name": "tiny",
            "model": {"path": str(model)},
            "data": {"train_files": str(data[0]), "val_files": str(data[1]), "max_length": 256},
            "batch": {"global_batch_size": batch, "micro_batch_size_per_gpu": 2},
            "optim": {"lr": 1e-3, "warmup_ratio": 0.0},
            "training": {"max_steps": STEPS},
            "checkpoint": {"save_freq": SAVE, "test_freq": SAVE}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_toy_sft(tmp_path_factory.mktemp("sft"), n_train=32, n_val=4)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ref")
    s = train(_recipe(tiny_model_dir, data), gpus=1, device="cpu", run_dir=run_dir, echo="none")
    assert s.status == "finished", s.log_path.read_text()[-3000:]
    return s


def test_reference_run_checkpoints_and_smoke_checklist(reference, tiny_model_dir, data):
    assert reference.checkpoints == [2, 4] and latest_step(reference.run_dir) == STEPS
    assert sorted(reference.losses) == list(range(1, STEPS + 1))
    checks = check_run(reference.run_dir, [2, 4], reference.log_path, reference.returncode)
    assert all(c.ok for c in checks), "\n".join(c.line() for c in checks)
    rec = RunRecord.load(reference.run_dir).data
    assert rec["world_size"] == 1 and rec["total_steps"] == STEPS and rec["attempts"][0]["status"] == "finished"
    with pytest.raises(TrainingError, match="already finished"):
        train(_recipe(tiny_model_dir, data), gpus=1, device="cpu", run_dir=reference.run_dir, echo="none")


def test_interrupt_refuse_resume_matches_reference(reference, tiny_model_dir, data, tmp_path):
    run_dir = tmp_path / "run"
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(_recipe(tiny_model_dir, data)))
    cmd = [sys.executable, "-m", "coderl", "train", "--recipe", str(recipe_file), "--device", "cpu", "--gpus", "1",
           "--run-dir", str(run_dir), "--quiet"]
    launcher = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    tree: list[psutil.Process] = []
    while (latest_step(run_dir) or 0) < SAVE and launcher.poll() is None and time.monotonic() < deadline:
        tree = psutil.Process(launcher.pid).children(recursive=True) or tree
        time.sleep(0.2)
    assert launcher.poll() is None, "run ended before it could be interrupted:\n" + launcher.stdout.read()
    assert len(tree) >= 2  # torchrun and its worker
    launcher.send_signal(signal.SIGINT)  # Ctrl-C
    out, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, out
    assert not [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "workers survived"
    stopped_at = latest_step(run_dir)
    assert SAVE <= stopped_at < STEPS
    assert RunRecord.load(run_dir).attempts[0]["status"] == "interrupted"

    with pytest.raises(TrainingError, match=r"written by 1 processes, this launch has 2"):
        train(str(recipe_file), gpus=2, device="cpu", run_dir=run_dir, echo="none")

    resumed = train(str(recipe_file), gpus=1, device="cpu", run_dir=run_dir, echo="none")
    assert resumed.status == "finished" and resumed.attempt == 2 and resumed.start_step == stopped_at
    assert sorted(resumed.losses) == list(range(stopped_at + 1, STEPS + 1))
    for step, loss in resumed.losses.items():
        assert loss == reference.losses[step], f"step {step}: resumed {loss} != uninterrupted {reference.losses[step]}"
    logs = sorted((run_dir / "logs").glob("attempt_*.log"))
    assert [p.name for p in logs] == ["attempt_001.log", "attempt_002.log"]
    assert read_metrics(run_dir)[STEPS]["attempt"] == 2

    with pytest.raises(TrainingError, match="already finished"):
        train(str(recipe_file), gpus=1, device="cpu", run_dir=run_dir, echo="none")


def test_prune_keeps_latest_and_converts_hf_to_bf16(reference):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    root = reference.run_dir
    r = prune(root, keep=1)
    assert r.dropped_optimizer == [2] and r.kept_optimizer == [4] and r.freed_bytes > 0
    assert not list((root / "global_step_2").glob("optim_*")) and list((root / "global_step_4").glob("optim_*"))
    assert r.converted_hf == [2, 4]
    hf = root / "global_step_4" / "huggingface"
    cfg = json.loads((hf / "config.json").read_text())
    assert cfg.get("dtype", cfg.get("torch_dtype")) == "bfloat16"
    with safe_open(str(next(hf.glob("*.safetensors"))), framework="pt") as sf:
        assert {sf.get_slice(k).get_dtype() for k in sf.keys()} == {"BF16"}
    AutoModelForCausalLM.from_pretrained(hf, local_files_only=True)
    assert prune(root, keep=1).freed_bytes == 0  # idempotent


def test_two_processes(tiny_model_dir, data, tmp_path):
    recipe = _recipe(tiny_model_dir, data, batch=4)
    recipe["training"]["max_steps"] = 2
    s = train(recipe, gpus=2, device="cpu", run_dir=tmp_path / "run2", echo="none")
    assert s.status == "finished", s.log_path.read_text()[-3000:]
    names = sorted(p.name for p in (tmp_path / "run2" / "global_step_2").glob("model_world_size_*"))
    assert names == ["model_world_size_2_rank_0.pt", "model_world_size_2_rank_1.pt"]
    assert sorted(s.losses) == [1, 2] and all(v == v for v in s.losses.values())
