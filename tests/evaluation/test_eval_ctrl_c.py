"""Ctrl-C stops `coderl eval` and `make eval-all` promptly: the model server and every child.

Real processes throughout: the CLI starts a real `transformers serve` for a tiny Qwen2 (the vllm
backend with --engine transformers: the same lifecycle as vLLM, without vLLM), generates through
it and judges in the real sandbox. Ctrl-C arrives as a terminal sends it (SIGINT to the process
group) once generation is under way (the event: answers in the generation cache); psutil then
checks that nothing the command started survives the 10 s limit.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.generation.vllm_server import port_in_use
from ctrl_c import STOP_LIMIT_S, ctrl_c, start_in_foreground_group, tree

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert main(["data", "--datasets", "humaneval", "--raw-dir", str(d), "--offline"]) == 0
    return d


@pytest.fixture()
def served_config(tmp_path) -> tuple[Path, int]:
    """configs/eval.yaml with short answers and a free port for the server."""
    port = _free_port()
    d = tmp_path / "configs"
    d.mkdir()
    for name in ("prompts.yaml", "datasets.yaml"):
        shutil.copy(REPO / "configs" / name, d / name)
    text = (REPO / "configs" / "eval.yaml").read_text()
    assert "max_new_tokens: 2048" in text and "port: 8000" in text
    (d / "eval.yaml").write_text(
        text.replace("max_new_tokens: 2048", "max_new_tokens: 12").replace("port: 8000", f"port: {port}")
    )
    return d / "eval.yaml", port


def _interrupt_once_generating(cmd: list[str], gen_cache: Path, port: int, env: dict | None = None):
    proc = start_in_foreground_group(cmd, env=env)
    try:
        deadline = time.monotonic() + 900  # a safety net only: the wait ends on the event
        while proc.poll() is None and time.monotonic() < deadline:
            if gen_cache.exists() and gen_cache.read_text().count("\n") >= 1:
                break
            time.sleep(0.05)
        assert proc.poll() is None, (
            "the evaluation ended before it could be interrupted:\n" + proc.stdout.read()[-3000:]
        )
        started = tree(proc)
        cmdlines = [" ".join(p.cmdline()) for p in started]
        assert any("transformers" in c and " serve " in c for c in cmdlines), cmdlines
        assert port_in_use(port)
        rc, took, out, survivors = ctrl_c(proc, started)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 130, out[-3000:]
    assert survivors == [] and took < STOP_LIMIT_S, f"{took:.1f} s; still running: {survivors}\n{out[-2000:]}"
    assert not port_in_use(port)
    return out


def test_ctrl_c_stops_coderl_eval_and_its_server(raw_dir, served_config, tiny_model_dir, tmp_path):
    cfg, port = served_config
    out_root = tmp_path / "outputs"
    cmd = [
        sys.executable,
        "-m",
        "coderl",
        "eval",
        "--checkpoint",
        str(tiny_model_dir),
        "--step",
        "1",
        "--backend",
        "vllm",
        "--engine",
        "transformers",
        "--datasets",
        "humaneval",
        "--phase",
        "p",
        "--eval-config",
        str(cfg),
        "--raw-dir",
        str(raw_dir),
        "--out-root",
        str(out_root),
    ]
    out = _interrupt_once_generating(cmd, out_root / "p" / "step_1" / "cache" / "generations" / "humaneval.jsonl", port)
    assert "interrupted" in out
    assert not (out_root / "p" / "eval_history.jsonl").exists()  # nothing recorded for a cut-short run


def test_ctrl_c_stops_make_eval_all_and_its_server(raw_dir, served_config, tiny_model_dir, tmp_path):
    cfg, port = served_config
    root = tmp_path / "ckpts"
    for step in (1, 2):
        shutil.copytree(tiny_model_dir, root / f"global_step_{step}" / "huggingface")
    out_root = tmp_path / "outputs"
    # what `make eval-all CKPT_ROOT=... PHASE=p` runs (make itself is not run here: it would first re-check the venv)
    cmd = [
        sys.executable,
        "-m",
        "coderl",
        "eval-all",
        "--ckpt-root",
        str(root),
        "--sandbox",
        "local",
        "--phase",
        "p",
        "--engine",
        "transformers",
        "--datasets",
        "humaneval",
        "--eval-config",
        str(cfg),
        "--raw-dir",
        str(raw_dir),
        "--out-root",
        str(out_root),
    ]
    _interrupt_once_generating(cmd, out_root / "p" / "step_1" / "cache" / "generations" / "humaneval.jsonl", port)
    assert not (out_root / "p" / "step_2").exists()  # the loop over checkpoints stopped too
