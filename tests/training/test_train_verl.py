"""End-to-end: the real verl 0.9.1 SFT trainer on CPU (gloo), tiny random-init Qwen2, real Qwen tokenizer.

One uninterrupted reference run; one run interrupted with Ctrl-C after its first checkpoint,
refused with another process count, resumed (its losses must equal the reference's), refused
once finished; the smoke checklist and prune-ckpt on the reference; a 2-process run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from coderl.checkpoints import latest_step
from coderl.errors import TrainingError
from coderl.training.launch import train
from coderl.training.prune import prune
from coderl.training.run_record import RunRecord, read_metrics
from coderl.training.smoke import check_run
from coderl.training.toy_data import write_toy_sft
from ctrl_c import start_in_foreground_group

pytestmark = pytest.mark.slow

STEPS, SAVE = 4, 2  # small: each CPU step of the tiny model costs seconds on 2 shared cores
PAUSE_HOOK = Path(__file__).parents[1] / "fixtures" / "pause_after_checkpoint"


def _recipe(model: Path, data: tuple[Path, Path], batch: int = 2) -> dict:
    return {
        "base": "runbook",
        "name": "tiny",
        "model": {"path": str(model)},
        "data": {"train_files": str(data[0]), "val_files": str(data[1]), "max_length": 256},
        "batch": {"global_batch_size": batch, "micro_batch_size_per_gpu": 2},
        "optim": {"lr": 1e-3, "warmup_ratio": 0.0},
        "training": {"max_steps": STEPS},
        "checkpoint": {"save_freq": SAVE, "test_freq": SAVE},
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_toy_sft(tmp_path_factory.mktemp("sft"), n_train=32, n_val=4)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ref")
    # launched from an empty folder: whatever verl writes into its cwd would show up there
    cwd = tmp_path_factory.mktemp("launch_cwd")
    old_cwd = os.getcwd()
    os.chdir(cwd)
    try:
        s = train(_recipe(tiny_model_dir, data), gpus=1, device="cpu", run_dir=run_dir, echo="none")
    finally:
        os.chdir(old_cwd)
    assert s.status == "finished", s.log_path.read_text()[-3000:]
    s.launch_cwd = cwd
    return s


def test_verl_hydra_output_goes_into_the_run_dir(reference):
    assert list(reference.launch_cwd.iterdir()) == []  # no outputs/<date>/<time>/ where it was launched
    hydra = reference.run_dir / "logs" / "attempt_001_hydra"
    assert (hydra / "sft_trainer.log").is_file() and (hydra / ".hydra" / "config.yaml").is_file()


PROGRESS = re.compile(
    r"^\[progress\] step (\d+)/(\d+) \((\d+)%\)  (?:(-) s/step  - tokens/s/gpu  ETA -|"
    r"([\d.]+) s/step  ([\d,]+) tokens/s/gpu  ETA (\d+):(\d\d):(\d\d))$"
)


def test_progress_lines_show_step_rate_tokens_and_eta(reference):
    log = reference.log_path.read_text()
    rows = [PROGRESS.match(ln) for ln in log.splitlines() if ln.startswith("[progress]")]
    assert len(rows) == STEPS and all(rows), [ln for ln in log.splitlines() if ln.startswith("[progress]")]
    assert [(int(m[1]), int(m[2])) for m in rows] == [(i, STEPS) for i in range(1, STEPS + 1)]
    assert rows[0][4] == "-"  # one step line gives no rate yet
    tokens = {step: m["train/global_tokens"] for step, m in read_metrics(reference.run_dir).items()}
    for m in rows[1:]:
        step, sec, tok = int(m[1]), float(m[5]), int(m[6].replace(",", ""))
        assert sec > 0
        # tokens/s per GPU is the steps' tokens over their time (one process here), to the printed precision
        window = range(2, step + 1)
        assert abs(tok - sum(tokens[i] for i in window) / (sec * len(window))) <= 0.02 * tok + 1
        eta = int(m[7]) * 3600 + int(m[8]) * 60 + int(m[9])
        assert abs(eta - sec * (STEPS - step)) <= 1
    assert rows[-1].group(7, 8, 9) == ("0", "00", "00")


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
    cmd = [
        sys.executable,
        "-m",
        "coderl",
        "train",
        "--recipe",
        str(recipe_file),
        "--device",
        "cpu",
        "--gpus",
        "1",
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    # the workers hold right after the step-SAVE checkpoint (tests/fixtures/pause_after_checkpoint), so
    # Ctrl-C arrives on that event, mid-run, however loaded the machine is
    paused = tmp_path / "paused"
    env = {
        **os.environ,
        "CODERL_TEST_PAUSE_AFTER_STEP": str(SAVE),
        "CODERL_TEST_PAUSED_FILE": str(paused),
        "PYTHONPATH": os.pathsep.join([str(PAUSE_HOOK), os.environ.get("PYTHONPATH", "")]),
    }
    launcher = start_in_foreground_group(cmd, env=env)
    deadline = time.monotonic() + 600  # a safety net only: the wait ends on the event
    while not paused.exists() and launcher.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert launcher.poll() is None and paused.exists(), (
        "run ended before it could be interrupted:\n" + launcher.stdout.read()
    )
    tree = psutil.Process(launcher.pid).children(recursive=True)
    assert len(tree) >= 2  # torchrun and its worker
    os.killpg(launcher.pid, signal.SIGINT)  # Ctrl-C, to the foreground process group as a terminal sends it
    out, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 130, out
    assert not [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "workers survived"
    stopped_at = latest_step(run_dir)
    assert stopped_at == SAVE
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
