"""SANDBOX=url1,url2,...: real HTTP servers on 127.0.0.1 speaking SandboxFusion's run_code API (each runs
the code through coderl's own local executor), one of them killed mid-run, then all of them."""

from __future__ import annotations

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coderl.cli import main
from coderl.data.problem import Problem
from coderl.evaluation.history import read_history
from coderl.sandbox import make_executor
from coderl.sandbox.judge import JudgePool
from coderl.sandbox.multi_server import MultiSandboxExecutor
from http_json import send_json

_SF_STATUS = {
    "ok": "Finished",
    "runtime_error": "Finished",
    "memory_exceeded": "Finished",
    "output_limit": "Finished",
    "timeout": "TimeLimitExceeded",
}


class FakeSandboxFusion:
    """A SandboxFusion endpoint backed by the embedded sandbox; kill() makes it die like a crashed box:
    it stops listening and drops the executions it holds without answering."""

    def __init__(self, local):
        self.local, self.in_flight, self.peak, self.done, self.dead = local, 0, 0, 0, False
        lock, me = threading.Lock(), self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    me.in_flight += 1
                    me.peak = max(me.peak, me.in_flight)
                try:
                    r = me.local.run(
                        body["code"],
                        stdin=body.get("stdin", ""),
                        timeout_s=body["run_timeout"],
                        memory_mb=body["memory_limit_MB"],
                    )
                finally:
                    with lock:
                        me.in_flight -= 1
                if me.dead:
                    self.close_connection = True  # died while running it: the client gets no answer
                    return
                resp = (
                    {"status": "SandboxError", "message": r.message, "run_result": None}
                    if r.status == "sandbox_error"
                    else {
                        "status": "Success" if r.status == "ok" else "Failed",
                        "message": "",
                        "run_result": {
                            "status": _SF_STATUS[r.status],
                            "return_code": r.exit_code,
                            "stdout": r.stdout,
                            "stderr": r.stderr,
                            "execution_time": r.wall_s,
                        },
                    }
                )
                send_json(self, resp)
                with lock:
                    me.done += 1

            def log_message(self, *a):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def kill(self):
        self.dead = True
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def local(eval_config):
    return make_executor("local", eval_config)


def functional(i: int, ok: bool) -> tuple[Problem, str]:
    p = Problem(
        id=f"p{i}",
        dataset="t",
        kind="functional",
        prompt="f",
        entry_point="f",
        test_code=f"def check(f):\n    assert f() == {i}\n",
    )
    return p, f"def f():\n    return {i if ok else -1}\n"


def test_executions_spread_respect_the_limit_and_move_off_a_dead_server(local, eval_config):
    servers = [FakeSandboxFusion(local) for _ in range(3)]
    multi = MultiSandboxExecutor(
        [s.url for s in servers], per_server=2, timeout_s=10, memory_mb=512, output_bytes=1 << 20, backoff_s=0.01
    )
    assert multi.health()[0]
    work = [functional(i, ok=i % 3 != 0) for i in range(36)]
    pool = JudgePool(multi, workers=8)
    try:
        first = [pool.submit(p, code) for p, code in work[:12]]
        [f.result() for f in first]
        servers[0].kill()  # dies with executions in flight and later ones queued for it
        rest = [pool.submit(p, code) for p, code in work[12:]]
        verdicts = [f.result().verdict for f in first + rest]
    finally:
        pool.close()
    expected = ["accepted" if i % 3 else "wrong_answer" for i in range(36)]
    assert verdicts == expected  # no execution lost or scored as a failure when one server died
    assert all(s.peak <= 2 for s in servers) and max(s.peak for s in servers) == 2  # the per-server limit
    assert all(s.done > 0 for s in servers)  # every server took work while alive
    assert servers[1].done + servers[2].done >= 24  # everything after the death went to the others

    cfg = dataclasses.replace(eval_config, execution={**eval_config.execution, "sandbox_server_concurrency": 3})
    configured = make_executor(",".join(s.url for s in servers), cfg)  # what SANDBOX=url1,url2,url3 builds
    assert isinstance(configured, MultiSandboxExecutor) and configured.capacity == 9  # the judge pool's default size

    for s in servers[1:]:
        s.kill()
    r = multi.run("print(1)")
    assert r.status == "sandbox_error" and "every SandboxFusion server failed" in r.message
    ok, why = MultiSandboxExecutor(
        [s.url for s in servers], timeout_s=5, memory_mb=256, output_bytes=1 << 20, backoff_s=0.01
    ).health()
    assert not ok and "none of the 3 SandboxFusion servers is healthy" in why


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("raw")
    assert main(["data", "--datasets", "humaneval", "--raw-dir", str(d), "--offline"]) == 0
    return d


def test_eval_guard_stops_when_every_server_dies_mid_run(local, raw_dir, tmp_path, capsys):
    servers = [FakeSandboxFusion(local) for _ in range(2)]
    out = tmp_path / "outputs"
    rec_cache = out / "phase0" / "step_0_limit60" / "cache" / "records" / "humaneval.jsonl"

    def kill_both_once_judging():
        while not (rec_cache.exists() and len(rec_cache.read_text().splitlines()) >= 3):
            threading.Event().wait(0.01)
        for s in servers:
            s.kill()

    threading.Thread(target=kill_both_once_judging, daemon=True).start()
    rc = main(
        [
            "eval",
            "--model",
            "oracle",
            "--step",
            "0",
            "--backend",
            "oracle",
            "--phase",
            "phase0",
            "--datasets",
            "humaneval",
            "--limit",
            "60",
            "--raw-dir",
            str(raw_dir),
            "--out-root",
            str(out),
            "--sandbox",
            ",".join(s.url for s in servers),
        ]
    )
    err = capsys.readouterr().err
    assert rc != 0 and "every SandboxFusion server failed" in err and "guard" in err
    assert not read_history(out / "phase0" / "eval_history.jsonl")  # nothing scored
    assert 3 <= len(rec_cache.read_text().splitlines()) < 60  # what finished is cached for the resume
