"""coderl eval through a real OpenAI-compatible server (`coderl serve --engine transformers`, --vllm-url)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.evaluation.history import read_history

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_eval_against_a_running_server(tmp_path, tiny_model_dir):
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    for name in ("prompts.yaml", "datasets.yaml"):
        shutil.copy(REPO / "configs" / name, cfg_dir / name)
    (cfg_dir / "eval.yaml").write_text(
        (REPO / "configs" / "eval.yaml")
        .read_text()
        .replace("max_new_tokens: 2048", "max_new_tokens: 12")
        .replace("concurrency: 64", "concurrency: 2")
    )
    raw = tmp_path / "raw"
    assert main(["data", "--datasets", "humaneval", "--raw-dir", str(raw), "--offline"]) == 0
    port = _free_port()
    model = str(Path(tiny_model_dir).resolve())
    # transformers serve's /v1/models scans the hub cache and answers 500 when that folder is missing
    (tmp_path / "hub").mkdir()
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub")}
    serve = subprocess.Popen(
        [
            str(REPO / ".venv" / "bin" / "coderl"),
            "serve",
            "--model",
            model,
            "--engine",
            "transformers",
            "--port",
            str(port),
            "--config",
            str(cfg_dir / "eval.yaml"),
            "--log",
            str(tmp_path / "serve.log"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 400
        line = ""
        while time.monotonic() < deadline and "serving" not in line:
            line = serve.stdout.readline()
            assert line or serve.poll() is None, "coderl serve exited before serving"
        assert "serving" in line, "the server did not come up"
        out = tmp_path / "outputs"
        assert (
            main(
                [
                    "eval",
                    "--model",
                    model,
                    "--step",
                    "0",
                    "--vllm-url",
                    f"http://127.0.0.1:{port}",
                    "--datasets",
                    "humaneval",
                    "--limit",
                    "4",
                    "--phase",
                    "phase0",
                    "--eval-config",
                    str(cfg_dir / "eval.yaml"),
                    "--raw-dir",
                    str(raw),
                    "--out-root",
                    str(out),
                ]
            )
            == 0
        )
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=60)
    step = out / "phase0" / "step_0_limit4"
    recs = [json.loads(x) for x in (step / "per_problem" / "humaneval.jsonl").read_text().splitlines()]
    assert len(recs) == 4
    assert all(r["completion_tokens"] == 12 and r["prompt_tokens"] > 20 and r["truncated"] for r in recs)
    info = json.loads((step / "run_info.json").read_text())
    assert info["backend"] == "openai" and info["resume"]["served_model"] == model and info["resume"]["generated"] == 4
    [row] = read_history(out / "phase0" / "eval_history.jsonl")
    assert row["checkpoint"] == model and row["scores"]["humaneval"]["n"] == 4
