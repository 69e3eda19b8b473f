"""env-check's decisions on this machine (no GPU)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from coderl.commands.env_check import main_args
from coderl.envcheck import FAIL, PASS, WARN, check_python, check_torch, check_verl, run_checks


def _rows(*argv: str) -> dict:
    return {r.check: r for r in run_checks(main_args(list(argv)))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_and_verl_pass():
    args = main_args([])
    assert check_python(args).status == PASS
    row = check_verl(args)
    assert row.status == PASS and "verl 0.9.1" in row.detail


def test_no_gpu_is_a_warning_unless_gpus_are_required():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert check_torch(main_args([])).status == WARN
    row = check_torch(main_args(["--gpus", "2"]))
    assert row.status == FAIL and "2 GPU(s) requested" in row.detail


def test_unreachable_sandboxfusion_fails_with_the_url():
    url = f"http://127.0.0.1:{_free_port()}"
    row = _rows("--sandbox", url)["sandbox"]
    assert row.status == FAIL and url in row.detail


def test_embedded_sandbox_passes_at_bwrap_and_warns_with_the_cost_below():
    import shutil

    row = _rows()["sandbox"]
    if shutil.which("bwrap"):
        assert row.status == PASS and "isolation: bwrap" in row.detail, row.detail
    else:  # a machine without bubblewrap: the level in force, what it costs, the install command
        assert row.status == WARN and "Not held at this level" in row.detail and "bubblewrap" in row.detail


@pytest.mark.parametrize("level, gap", [("unshare", "no private /tmp"), ("rlimits", "no network namespace")])
def test_a_weaker_isolation_level_is_named_with_what_it_does_not_hold(monkeypatch, level, gap):
    monkeypatch.setenv("CODERL_SANDBOX_LEVEL", level)
    row = _rows()["sandbox"]
    assert row.status == WARN, row.detail
    assert f"isolation: {level}, not bwrap: forced by CODERL_SANDBOX_LEVEL={level}" in row.detail
    assert gap in row.detail and "no read-only /" in row.detail


def test_cli_exit_code_and_json():
    out = subprocess.run(
        [sys.executable, "-m", "coderl", "env-check", "--json", "--gpus", "64"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    payload = json.loads(out.stdout)
    statuses = {r["check"]: r["status"] for r in payload["rows"]}
    assert set(statuses) == {"python", "torch", "verl", "vllm", "wandb", "sandbox", "disk", "datasets"}
    assert statuses["torch"] == FAIL  # 64 GPUs are never visible here
    assert payload["ok"] is False and out.returncode == 1
