"""The executors: statuses, limits from the eval config, the CLI, and the SandboxFusion backend."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coderl.config import load_eval_config
from coderl.errors import SandboxUnavailable
from coderl.sandbox import isolation, make_executor
from coderl.sandbox.local import LocalExecutor
from coderl.sandbox.outcome import is_memory_error
from coderl.sandbox.sandboxfusion import SandboxFusionExecutor, map_response
from coderl.sandbox.types import KILLED_FROM_OUTSIDE

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ex() -> LocalExecutor:
    return LocalExecutor(timeout_s=2.0, memory_mb=256, output_bytes=256 * 1024)


def test_level_is_the_strongest_available_and_health_passes(ex):
    """Proves the executor picked the strongest level that works here: every stronger level is
    missing its tool or fails its own probe, the chosen one passes, and health names it."""
    if os.environ.get("CODERL_SANDBOX_LEVEL"):
        pytest.skip("CODERL_SANDBOX_LEVEL forces the level")
    chosen = isolation.LEVELS.index(ex.isolation_level)
    for stronger in isolation.LEVELS[:chosen]:
        assert not shutil.which(stronger) or not ex._probe(stronger)[0], f"{stronger} works but was not chosen"
    assert ex._probe(ex.isolation_level)[0]
    ok, why = ex.health()
    assert ok, why
    assert ex.isolation_level in why


def test_ok_with_stdin_and_clean_env(ex):
    r = ex.run("import os, sys\nprint(sys.stdin.read().upper(), sorted(os.environ))", stdin="hello")
    assert r.status == "ok" and r.exit_code == 0
    assert r.stdout.startswith("HELLO ") and "'PATH'" in r.stdout and "VIRTUAL_ENV" not in r.stdout


def test_runtime_error_keeps_exit_code_and_traceback(ex):
    r = ex.run("import sys\nprint('partial')\nsys.exit(3)")
    assert (r.status, r.exit_code, r.stdout) == ("runtime_error", 3, "partial\n")
    r = ex.run("raise ValueError('boom')")
    assert r.status == "runtime_error" and r.stderr.strip().endswith("ValueError: boom")


def test_timeout_is_wall_clock_and_per_call(ex):
    r = ex.run("import time\ntime.sleep(30)", timeout_s=0.5)
    assert r.status == "timeout" and 0.4 < r.wall_s < 2.0


def test_memory_limit_gives_memory_exceeded_and_is_per_call(ex):
    hog = "b = bytearray(400 * 1024 * 1024)\nprint('got it')"
    assert ex.run(hog).status == "memory_exceeded"
    r = ex.run(hog, memory_mb=1024)
    assert r.status == "ok" and r.stdout == "got it\n"


def test_output_cap_stops_the_program(ex):
    r = ex.run("import sys\nwhile True: sys.stdout.write('y' * 4096)")
    assert r.status == "output_limit" and len(r.stdout) == 256 * 1024 and r.wall_s < 2.0


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_cap_boundary_is_the_same_fresh_and_pooled(ex, stream):
    """Proves a fresh and a pooled sandbox flag the same size: exactly the cap is ok, one byte more
    is output_limit (the pooled run's stdout is a file: its size limit must not flag the cap itself)."""
    cap = 256 * 1024
    fresh_ex = LocalExecutor(timeout_s=2.0, memory_mb=256, output_bytes=cap, pooled=False)
    runners = {"fresh": fresh_ex.run}
    if ex.pool is not None:
        runners["pooled"] = ex.run
    for how, run in runners.items():
        before = ex.pool.served if ex.pool is not None else 0
        at_cap = run(f"import sys\nsys.{stream}.write('y' * {cap})")
        over = run(f"import sys\nsys.{stream}.write('y' * {cap + 1})")
        assert at_cap.status == "ok", (how, at_cap.status, at_cap.message)
        assert over.status == "output_limit", (how, over.status, over.message)
        if stream == "stdout":
            assert len(at_cap.stdout) == cap and len(over.stdout) == cap, how
        if how == "pooled":
            assert ex.pool.served == before + 2
    if ex.pool is None:
        pytest.skip("the pooled half needs bubblewrap (no sandbox pool here); the fresh half passed")


def test_sigkill_below_the_time_limits_is_not_the_programs_runtime_error(ex):
    """Proves a SIGKILL before the CPU and wall limits (the host's OOM killer) is an infrastructure
    failure (sandbox_error), while a CPU-time overrun stays a timeout."""
    r = ex.run("import os, signal\nprint('x', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)")
    assert r.status == "sandbox_error" and KILLED_FROM_OUTSIDE in r.message, (r.status, r.message)
    assert ex.run("while True: pass", timeout_s=1.0).status == "timeout"


def test_stderr_keeps_only_the_tail(ex):
    r = ex.run("import sys\nfor i in range(3000): print('noise', i, file=sys.stderr)\nraise KeyError('last')")
    assert r.status == "runtime_error" and len(r.stderr) <= 16 * 1024 and r.stderr.strip().endswith("KeyError: 'last'")


def test_memory_error_detection_reads_the_end_of_stderr():
    assert is_memory_error('Traceback (most recent call last):\n  File "x", line 1\nMemoryError\n')
    assert not is_memory_error("MemoryError mentioned early\n" + "line\n" * 10 + "ValueError: x\n")


def test_many_threads_at_once_get_their_own_results(ex):
    out: dict[int, str] = {}

    def one(i: int) -> None:
        out[i] = ex.run(f"import sys\nprint({i} * int(sys.stdin.read()))", stdin="3").stdout.strip()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == {i: str(3 * i) for i in range(8)}


def _config_with(tmp_path: Path, **sandbox) -> object:
    cfgdir = tmp_path / "configs"
    shutil.copytree(REPO / "configs", cfgdir)
    text = (cfgdir / "eval.yaml").read_text()
    for k, v in sandbox.items():
        text = text.replace(f"  {k}:", f"  {k}: {v} #", 1)
    (cfgdir / "eval.yaml").write_text(text)
    return load_eval_config(cfgdir / "eval.yaml")


def test_make_executor_reads_limits_from_the_eval_config(tmp_path):
    cfg = _config_with(tmp_path, run_timeout_s=0.7, memory_limit_mb=200)
    ex = make_executor("local", cfg)
    r = ex.run("import time\ntime.sleep(10)")
    assert r.status == "timeout" and r.wall_s < 2.0
    assert ex.run("b = bytearray(300 * 1024 * 1024)").status == "memory_exceeded"
    with pytest.raises(SandboxUnavailable, match="SandboxFusion URL"):
        make_executor("docker://x", cfg)


def test_cli_sandbox_run_and_info(tmp_path):
    (tmp_path / "p.py").write_text("print(sum(map(int, input().split())))")
    (tmp_path / "in.txt").write_text("2 3 4\n")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "coderl",
            "sandbox",
            "run",
            "--code",
            str(tmp_path / "p.py"),
            "--stdin",
            str(tmp_path / "in.txt"),
            "--timeout",
            "5",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["status"] == "ok" and res["stdout"] == "9\n"
    r = subprocess.run(
        [sys.executable, "-m", "coderl", "sandbox", "info"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    info = json.loads(r.stdout)
    assert r.returncode == 0 and info["healthy"] and info["isolation_level"] in ("bwrap", "unshare", "rlimits")


# --- SandboxFusion backend -------------------------------------------------------------------------


def _resp(status, rstatus=None, rc=None, stdout="", stderr=""):
    rr = (
        None
        if rstatus is None
        else {"status": rstatus, "return_code": rc, "stdout": stdout, "stderr": stderr, "execution_time": 0.05}
    )
    return {"status": status, "message": "", "compile_result": None, "run_result": rr, "files": {}}


@pytest.mark.parametrize(
    "resp,expected",
    [
        (_resp("Success", "Finished", 0, "2\n"), "ok"),
        (_resp("Failed", "Finished", 1, "", "Traceback...\nValueError: x"), "runtime_error"),
        (_resp("Failed", "Finished", 1, "", "Traceback...\nMemoryError"), "memory_exceeded"),
        (_resp("Failed", "TimeLimitExceeded", None), "timeout"),
        (_resp("Failed", "Finished", -9), "runtime_error"),
        (_resp("Failed", "Error", None), "sandbox_error"),
        (_resp("SandboxError"), "sandbox_error"),
        (_resp("Failed"), "sandbox_error"),
        (_resp("Success", "Finished", 0, "z" * 2000), "output_limit"),
    ],
)
def test_sandboxfusion_status_mapping(resp, expected):
    assert map_response(resp, 0.1, 5.0, 1000).status == expected


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_sandboxfusion_unreachable_is_a_clear_sandbox_error():
    port = _free_port()
    sf = SandboxFusionExecutor(
        f"http://127.0.0.1:{port}", timeout_s=5, memory_mb=256, output_bytes=1 << 20, retries=2, backoff_s=0.05
    )
    t0 = time.monotonic()
    r = sf.run("print(1)")
    assert r.status == "sandbox_error" and f"127.0.0.1:{port}/run_code" in r.message and "3 attempts" in r.message
    assert "make sandbox" in r.message and time.monotonic() - t0 < 5
    ok, why = sf.health()
    assert not ok and "sandbox_error" in why


def test_sandboxfusion_retries_transport_errors_and_sends_the_limits():
    seen: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, **body})
            if len(seen) == 1:
                self.send_response(503)
                self.end_headers()
                return
            out = json.dumps(_resp("Success", "Finished", 0, "2\n")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        sf = SandboxFusionExecutor(
            f"http://127.0.0.1:{srv.server_port}/",
            timeout_s=7,
            memory_mb=321,
            output_bytes=1 << 20,
            retries=2,
            backoff_s=0.01,
        )
        r = sf.run("print(1+1)", stdin="in")
    finally:
        srv.shutdown()
    assert r.status == "ok" and r.stdout == "2\n" and len(seen) == 2
    assert seen[1] == {
        "path": "/run_code",
        "code": "print(1+1)",
        "language": "python",
        "run_timeout": 7.0,
        "memory_limit_MB": 321,
        "stdin": "in",
    }


@pytest.mark.parametrize("level", ["unshare", "rlimits"])
def test_weaker_levels_keep_the_limits(level):
    ex = LocalExecutor(timeout_s=2.0, memory_mb=256, output_bytes=64 * 1024, level=level)
    ok, why = ex.health()
    if not ok:
        pytest.skip(f"{level} does not work here: {why}")
    assert ex.run("b = bytearray(400 * 1024 * 1024)").status == "memory_exceeded"
    assert ex.run("while True: pass", timeout_s=1.0).status == "timeout"
    assert ex.run("while True: print('x' * 1000)").status == "output_limit"
    r = ex.run("import os\nprint(os.getuid(), sorted(os.environ))")
    assert r.status == "ok" and "HOME" in r.stdout and "VIRTUAL_ENV" not in r.stdout
    if level == "unshare":
        net = ex.run(
            "import socket\ntry:\n    socket.create_connection(('8.8.8.8', 53), timeout=1)\n    print('CONNECTED')\n"
            "except OSError:\n    print('blocked')"
        )
        assert net.stdout.strip() == "blocked"


STREAMS_PROBE = """import sys
for s in (sys.stdin, sys.stdout, sys.stderr):
    print(s.name, s.mode, s.encoding, s.errors, s.line_buffering, type(s.buffer).__name__, s.buffer.raw.name)
print(repr(sys.stdin.read()), __name__, sys.argv)
"""

# Every signal's disposition and the blocked set, as the program sees them: a forked execution
# inherits the zygote's, which must be a fresh interpreter's.
SIGNALS_PROBE = """import signal
for s in sorted(signal.valid_signals()):
    try:
        h = signal.getsignal(s)
    except (OSError, ValueError):
        h = 'n/a'
    print(int(s), getattr(h, '__name__', h))
print(sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])))
"""

# Programs whose output depends on how the interpreter ends: they must behave the same in a
# session (fork per input) as in a fresh process. All seen in CodeContests solutions.
FINALIZATION_CASES = {
    "IOBase subclass flushed only when finalized": (
        "import os\nfrom io import IOBase\nclass W(IOBase):\n    def __init__(self): self.b = []\n"
        "    def write(self, s): self.b.append(s)\n    def flush(self):\n        os.write(1, ''.join(self.b).encode()); self.b = []\n"
        "out = W()\nout.write('via finalizer\\n')\n"
    ),
    "atexit writes to sys.__stdout__": (
        "import atexit, io, sys\nbuf = io.StringIO()\nsys.stdout = buf\nprint('late')\n"
        "atexit.register(lambda: sys.__stdout__.write(buf.getvalue()))\n"
    ),
    "stdout closed by a with block": "import sys\nwith sys.stdout as f:\n    f.write('closed after\\n')\n",
    "fstat-sized read of stdin": "import os\nprint(os.read(0, os.fstat(0).st_size).decode().split())\n",
    "non-daemon thread finishes after main": (
        "import threading, time\ndef w():\n    time.sleep(0.2)\n    print('thread done')\nthreading.Thread(target=w).start()\n"
    ),
    "SystemExit with a message": "import sys\nprint('before')\nsys.exit('bye')\n",
    "uncaught exception": "print('x')\nraise ValueError('boom')\n",
    "stdout flush fails at exit (120)": "import sys\nsys.stdout = open('/dev/full', 'w')\nprint('x')\n",
    "exit code with a pending print": "import sys\nprint('buffered', end='')\nsys.exit(7)\n",
}

# Programs the compiler has something to say about: a pooled sandbox compiles a program once for all
# its inputs only when compiling is silent, so these must still report as `python prog.py` does.
COMPILE_CASES = {
    "syntax error": "print('a'\n",
    "SyntaxWarning at compile time": "x = len(input())\nprint(x is 1)\n",
    "invalid escape sequence": "import re\nprint(re.findall('\\d', input()))\n",
    "compiled once, run per input": "import sys\nprint(sys.stdin.read().split()[::-1])\n",
}


def _normalised(text: str) -> str:
    """Temp paths differ between a fresh sandbox and a pooled one: compare them as <tmp>."""
    return re.sub(r"/tmp/[\w./-]*", "<tmp>", text)


def test_pooled_executions_and_sessions_match_fresh_sandboxes(ex):
    """Proves pooled runs (a session's fork per input, and a single pooled execution) end exactly as
    a fresh sandbox (status, exit code, stdout, stderr up to temp paths), and that a pool ran them."""
    if ex.pool is None:
        pytest.skip(f"no sandbox pool at isolation level {ex.isolation_level!r} (pools need bubblewrap)")
    fresh_ex = LocalExecutor(timeout_s=2.0, memory_mb=256, output_bytes=256 * 1024, pooled=False)
    assert fresh_ex.pool is None
    for name, code in {
        "streams": STREAMS_PROBE,
        "signals": SIGNALS_PROBE,
        **FINALIZATION_CASES,
        **COMPILE_CASES,
    }.items():
        fresh = fresh_ex.run(code, stdin="a\r\nb 1\n")
        before = ex.pool.served
        with ex.session(code) as s:
            forked = [s.run("a\r\nb 1\n") for _ in range(2)] + [ex.run(code, stdin="a\r\nb 1\n")]
        assert ex.pool.served == before + 3, f"{name}: not every run was served by the pool"
        want = (fresh.status, fresh.exit_code, _normalised(fresh.stdout), _normalised(fresh.stderr))
        for r in forked:
            assert (r.status, r.exit_code, _normalised(r.stdout), _normalised(r.stderr)) == want, name
    assert "via finalizer" in ex.run(FINALIZATION_CASES["IOBase subclass flushed only when finalized"]).stdout
