"""The hostile-program corpus (tests/hostile/) against the real local executor.

Every program runs with its expected statuses, then the host is checked: no process left
behind (each program re-executes itself with a unique marker in argv, and /proc is searched for
it), files outside its directory untouched, the host's secrets invisible, no network, and a
normal program still runs correctly right after.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from coderl.data.problem import Problem
from coderl.sandbox.judge import STARVED_CPU_SHARE, AloneGate, judge_rerunning_alone
from coderl.sandbox.local import LocalExecutor
from coderl.sandbox.types import KILLED_FROM_OUTSIDE

HOSTILE = Path(__file__).parents[1] / "hostile"
PROGRAMS = sorted(p.name for p in HOSTILE.glob("*.py"))
TIMEOUT_S = 2.0
# Programs expected to end on their own get a generous limit: on a loaded machine a MemoryError
# traceback or a clean exit can take more than 2 s (the run would read as a timeout), and on an
# idle one it costs nothing. Programs that may run into the limit keep the short one.
FINISHING_TIMEOUT_S = 30.0
SLACK_S = 30.0  # how long past its limit a run may take (clean-up of many files on a loaded machine)
# The subset also run at the weaker levels (what the limits must hold everywhere).
WEAK_LEVEL_SUBSET = [
    "network.py",
    "fork_bomb.py",
    "memory_bomb.py",
    "output_flood.py",
    "daemon_child.py",
    "sleeping_children.py",
    "read_env.py",
    "write_outside.py",
    "kill_parent.py",
    "leave_traces.py",
    "disk_filler.py",
]

PROLOGUE = """import os as _o, sys as _s
if "__MARKER__" not in _s.argv:
    _o.execv(_s.executable, [_s.executable, "-I", _s.argv[0], "__MARKER__"])
"""


def _expected(name: str) -> set[str]:
    first = (HOSTILE / name).read_text().splitlines()[0]
    assert first.startswith("# expect:"), f"{name}: first line must be '# expect: status|status'"
    return set(first.split(":", 1)[1].strip().split("|"))


def _limit_for(name: str) -> float:
    return TIMEOUT_S if "timeout" in _expected(name) else FINISHING_TIMEOUT_S


def _procs_with(marker: str) -> list[int]:
    found = []
    for e in os.scandir("/proc"):
        if e.name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{e.name}/cmdline").read_bytes():
                    found.append(int(e.name))
            except OSError:
                pass
    return found


def _wait_gone(marker: str, within_s: float = 10.0) -> list[int]:  # returns as soon as they are gone
    deadline = time.monotonic() + within_s
    while (left := _procs_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


class Listener:
    """A localhost TCP server on the host that records whether anything connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)
        self._t.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._t.join()
        self.sock.close()


def _levels() -> list[str]:
    # Every level a machine may give: "bwrap" (the default: pooled sandboxes, a fork per execution),
    # "bwrap-fresh" (one sandbox set up per execution: the pool's fallback), "unshare" (no bwrap)
    # and "rlimits" (no user namespaces either). The weaker ones are forced here, as CI does.
    levels = ["bwrap", "bwrap-fresh"] if shutil.which("bwrap") else []
    return levels + (["unshare"] if shutil.which("unshare") else []) + ["rlimits"]


@pytest.fixture(scope="module", params=_levels())
def executor(request) -> LocalExecutor:
    level, _, variant = request.param.partition("-")
    ex = LocalExecutor(timeout_s=TIMEOUT_S, memory_mb=256, output_bytes=1 << 20, level=level, pooled=variant != "fresh")
    # not ex.health(): its limit is the executor's 2 s, which a loaded machine can miss (a skip, not a failure)
    r = ex.run("print(1+1)", timeout_s=60)
    if (r.status, r.stdout) != ("ok", "2\n"):
        pytest.skip(f"isolation level {request.param} does not work here: {r.status} {r.message} {r.stderr[-300:]}")
    yield ex
    ex.close()


@pytest.fixture()
def victim_dir(executor):
    # Under bwrap the victim is world-writable (only the read-only / protects it); at the rlimits
    # level it is an ordinary root-owned directory (only the dropped uid protects it).
    d = Path("/var/tmp") / f"coderl-victim-{secrets.token_hex(6)}"
    d.mkdir()
    (d / "victim.txt").write_text("precious")
    if executor.isolation_level == "bwrap":
        d.chmod(0o777)
        (d / "victim.txt").chmod(0o666)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("name", PROGRAMS)
def test_hostile_program_is_contained(executor, victim_dir, monkeypatch, name):
    marker = "coderl-hostile-" + secrets.token_hex(8)
    secret_name, secret = "CODERL_FAKE_SECRET_TOKEN", "sk-" + secrets.token_hex(16)
    monkeypatch.setenv(secret_name, secret)
    listener = Listener()
    try:
        code = (
            (PROLOGUE + (HOSTILE / name).read_text())
            .replace("__MARKER__", marker)
            .replace("__VICTIM_DIR__", str(victim_dir))
            .replace("__PORT__", str(listener.port))
        )
        t0 = time.monotonic()
        limit = _limit_for(name)
        r = executor.run(code, timeout_s=limit)
        elapsed = time.monotonic() - t0
    finally:
        listener.close()

    if r.status == "sandbox_error" and KILLED_FROM_OUTSIDE in r.message and name == "kill_parent.py":
        # at the unshare level the program is its namespace's init (getppid() == 0), so kill(0) SIGKILLs its own
        # group: the executor cannot tell that from the host's OOM killer and says sandbox_error; the judge
        # re-runs it alone and, killed again, it is the program's runtime_error
        problem = Problem(
            id=name, dataset="hostile", kind="stdio", prompt="a hostile program", tests=[{"input": "", "output": ""}]
        )
        verdict = judge_rerunning_alone(problem, code, executor, AloneGate())
        assert verdict.verdict == "runtime_error", verdict
    else:
        assert r.status in _expected(name), f"{name}: {r.status} ({r.message}) stderr={r.stderr[-500:]!r}"
    assert elapsed < limit + SLACK_S, f"{name}: the executor took {elapsed:.1f}s for a {limit}s limit"
    assert len(r.stdout.encode()) <= 1 << 20 and len(r.stderr) <= 64 * 1024
    assert _wait_gone(marker) == [], f"{name}: processes left behind"
    # host untouched
    assert (victim_dir / "victim.txt").read_text() == "precious"
    assert not (victim_dir / "pwned.txt").exists()
    assert not Path("/etc/pwned_by_sandbox").exists()
    assert secret not in r.stdout and secret not in r.stderr, f"{name}: the host's secret leaked"
    assert "SUCCEEDED delete" not in r.stdout and "SUCCEEDED write next" not in r.stdout
    if executor.isolation_level == "bwrap" or platform.machine() in ("x86_64", "aarch64"):
        # bwrap: no network namespace to reach; rlimits: the seccomp filter refuses inet sockets
        assert listener.connections == 0, "the sandbox reached a host port"
        assert "CONNECTED" not in r.stdout
    if executor.isolation_level == "bwrap":
        assert not list(Path("/var/tmp").glob(f"*{marker}*")) and not list(Path("/dev/shm").glob(f"*{marker}*"))
    for d in ("/tmp", "/var/tmp", "/dev/shm"):
        assert not list(Path(d).glob(f"*{marker}*")), f"{name}: left files in the host's {d}"
    # the next execution is unaffected: correct output, and nothing left where it looks
    nxt = executor.run(
        f"import os\nprint(6*7, [p for d in ('.', '/tmp', '/dev/shm') for p in os.listdir(d) if '{marker}' in p])"
    )
    assert nxt.status == "ok" and nxt.stdout.split("\n")[0] == "42 []", nxt


def test_timeout_kills_a_program_ignoring_sigterm_promptly(executor):
    r = executor.run(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(100)", timeout_s=1.0
    )
    assert r.status == "timeout" and r.wall_s < 5.0, (
        r
    )  # SIGKILL at the limit, no SIGTERM grace (headroom: a loaded machine)


def test_concurrent_runs_do_not_interfere(executor):
    # a fork bomb in one slot must not starve a normal program running at the same time
    results = {}
    marker = "coderl-bomb-" + secrets.token_hex(8)
    bomb_code = (PROLOGUE + "import os\nwhile True:\n    try: os.fork()\n    except OSError: pass").replace(
        "__MARKER__", marker
    )

    def bomb():
        results["bomb"] = executor.run(bomb_code, timeout_s=10.0)

    t = threading.Thread(target=bomb)
    t.start()
    deadline = time.monotonic() + 60  # the event: the bomb has forked (a safety net, not a pause)
    while len(_procs_with(marker)) < 8 and "bomb" not in results and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "bomb" not in results, f"the bomb ended before the normal run started: {results['bomb']}"
    normal = "import subprocess\nprint(subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout.strip())"
    results["normal"] = executor.run(normal)
    # Without a CPU cgroup the bomb's 64 processes take their share of the cores: on a loaded machine
    # the normal program may reach its wall limit. It is then a *starved* time-out (little CPU used),
    # never a wrong answer, and the judge re-runs it alone and judges it by CPU time: accepted.
    first = results["normal"]
    starved = first.status == "timeout" and first.cpu_s is not None and first.cpu_s < STARVED_CPU_SHARE * first.wall_s
    assert (first.status == "ok" and first.stdout.strip() == "hi") or starved, first
    problem = Problem(id="normal", dataset="hostile", kind="stdio", prompt="p", tests=[{"input": "", "output": "hi"}])
    verdict = judge_rerunning_alone(problem, normal, executor, AloneGate())
    t.join()
    assert verdict.verdict == "accepted", verdict
    assert results["bomb"].status != "ok"


# --- the same corpus through a session (pre-started interpreter forking per input) ---------------

SESSION_SUBSET = [
    "fork_bomb.py",
    "memory_bomb.py",
    "infinite_loop.py",
    "output_flood.py",
    "stderr_flood.py",
    "daemon_child.py",
    "sleeping_children.py",
    "kill_parent.py",
    "read_env.py",
    "disk_filler.py",
    "write_outside.py",
    "network.py",
]


@pytest.mark.parametrize("name", SESSION_SUBSET)
def test_hostile_program_in_a_session(executor, victim_dir, monkeypatch, name):
    if executor.pool is None:
        pytest.skip("sessions pre-start an interpreter in pooled bwrap sandboxes only")
    marker = "coderl-hostile-" + secrets.token_hex(8)
    secret = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("CODERL_FAKE_SECRET_TOKEN", secret)
    code = (
        (PROLOGUE + (HOSTILE / name).read_text())
        .replace("__MARKER__", marker)
        .replace("__VICTIM_DIR__", str(victim_dir))
        .replace("__PORT__", "9")
    )
    with executor.session(code) as s:
        for _ in range(2):  # the second input must meet the same limits and a clean sandbox
            r = s.run("", timeout_s=_limit_for(name))
            assert r.status in _expected(name), f"{name}: {r.status} ({r.message}) {r.stderr[-300:]!r}"
            assert secret not in r.stdout and "SUCCEEDED delete" not in r.stdout and "CONNECTED" not in r.stdout
            assert _wait_gone(marker) == [], f"{name}: processes left behind inside a session"
    assert _wait_gone(marker) == []
    assert (victim_dir / "victim.txt").read_text() == "precious"


def test_session_inputs_do_not_see_each_other(executor):
    if executor.pool is None:
        pytest.skip("pooled bwrap sandboxes only")
    code = (
        "import os\nseen = [p for p in ('/tmp/note', 'note', '/dev/shm/note') if os.path.exists(p)]\n"
        "for p in ('/tmp/note', 'note', '/dev/shm/note'):\n    open(p, 'w').write('x')\nprint(seen, input())"
    )
    with executor.session(code) as s:
        outs = [s.run(f"{i}\n").stdout.strip() for i in range(3)]
    assert outs == ["[] 0", "[] 1", "[] 2"]


# --- pooled sandboxes: nothing carries over from one execution to the next ------------------------

PROBE = r"""import os, stat
me = os.getpid()
found = []
for top, dirs, files in os.walk("/"):
    if top.startswith(("/proc", "/sys")) or top.count("/") > 3:
        dirs[:] = []
        continue
    found += [os.path.join(top, f) for f in files + dirs if "__MARKER__" in f]
found += [os.path.join(d, f) for d in ("/tmp", "/dev/shm", "/dev/mqueue") for f in os.listdir(d) if f != "prog.py"]
procs = sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getppid(), me)
               and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] not in "ZX")
ipc = {k: open(f"/proc/sysvipc/{k}").read().splitlines()[1:] for k in ("shm", "msg", "sem")}
tmp = os.stat("/tmp")
umask = os.umask(0o22)
print("ns", os.readlink("/proc/self/ns/pid"))
print({"found": found, "procs": procs, "ipc": ipc, "umask": oct(umask), "cwd": os.getcwd(),
       "env": sorted(os.environ), "tmp": [oct(stat.S_IMODE(tmp.st_mode)), tmp.st_uid == os.getuid()]})
"""

CLEAN = {
    "found": [],
    "procs": [],
    "ipc": {"shm": [], "msg": [], "sem": []},
    "umask": "0o22",
    "cwd": "/tmp",
    "env": ["HOME", "LANG", "PATH", "PWD"],
    "tmp": ["0o755", True],
}


def _pooled(timeout_s: float = TIMEOUT_S, **kw) -> LocalExecutor:
    if not shutil.which("bwrap"):
        pytest.skip("pooled sandboxes need bwrap")
    ex = LocalExecutor(timeout_s=timeout_s, memory_mb=256, output_bytes=1 << 20, level="bwrap", pooled=True, **kw)
    if ex.run_fresh("print(1)", "", ex.defaults).stdout != "1\n":  # not through the pool: it counts executions
        pytest.skip("bwrap does not work here")
    return ex


def _ns_and_report(r) -> tuple[str, dict]:
    import ast

    lines = r.stdout.splitlines()
    assert r.status == "ok" and lines[0].startswith("ns "), r
    return lines[0], ast.literal_eval(lines[-1])


def test_pooled_sandbox_carries_nothing_to_the_next_execution():
    marker = "coderl-contam-" + secrets.token_hex(6)
    ex = _pooled()
    try:
        _, before = _ns_and_report(ex.run(PROBE.replace("__MARKER__", marker)))
        assert before == CLEAN, before
        r = ex.run((HOSTILE / "contaminate.py").read_text().replace("__MARKER__", marker))
        assert r.status == "ok" and "done" in r.stdout, r
        assert "ESCAPED" not in r.stdout, r.stdout  # ptrace, /proc/<zygote>/mem|fd, signals
        assert "did add_key" not in r.stdout  # the kernel keyring is blocked
        writable = {ln.split()[1] for ln in r.stdout.splitlines() if ln.startswith("wrote ")}
        assert writable <= {"/tmp", "/dev/shm", "/dev/mqueue"}, writable  # exactly what is wiped
        ns_after, after = _ns_and_report(ex.run(PROBE.replace("__MARKER__", marker)))
        assert ns_after == r.stdout.splitlines()[0], "the probe did not run in the same pooled sandbox"
        assert after == CLEAN, after
        assert _wait_gone(marker) == []
    finally:
        ex.close()


def test_pool_recycles_a_sandbox_after_n_executions():
    ex = _pooled(pool_max_executions=3)
    try:
        ns = [ex.run("import os\nprint(os.readlink('/proc/self/ns/pid'))").stdout for _ in range(4)]
    finally:
        ex.close()
    assert ns[0] == ns[1] == ns[2] != ns[3], ns


def test_a_zygote_killed_mid_execution_costs_a_restart_not_a_verdict():
    import signal

    import psutil

    ex = _pooled(timeout_s=60.0)
    try:
        assert ex.run("print(1)").stdout == "1\n"
        zygote = ex.pool._idle[0]
        sandbox = psutil.Process(zygote._proc.pid)
        idle = len(sandbox.children(recursive=True))

        def kill_once_the_program_runs():  # the event: the zygote has forked the program
            deadline = time.monotonic() + 60
            while len(sandbox.children(recursive=True)) <= idle and time.monotonic() < deadline:
                time.sleep(0.01)
            os.killpg(zygote._proc.pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_the_program_runs)
        killer.start()
        # pooled (parent: the zygote) it waits to be killed; re-run fresh (parent: bwrap's init) it answers
        r = ex.run("import os, time\nif os.getppid() != 1:\n    time.sleep(60)\nprint(6 * 7)")
        killer.join()
        assert (r.status, r.stdout) == ("ok", "42\n"), r  # re-run in a fresh sandbox
        assert zygote.retired and zygote not in ex.pool._idle
        assert ex.run("print(2)").stdout == "2\n"  # and the pool starts another
    finally:
        ex.close()


def test_pool_that_cannot_start_falls_back_to_fresh_sandboxes(monkeypatch):
    from coderl.sandbox import pool

    monkeypatch.setattr(pool, "ZYGOTE_CAPS", ("CAP_NO_SUCH_CAPABILITY",))  # bwrap refuses to start
    ex = _pooled()
    try:
        results = [ex.run("print(6 * 7)") for _ in range(pool.MAX_START_FAILURES + 1)]
        assert all((r.status, r.stdout) == ("ok", "42\n") for r in results), results
        assert ex.pool.disabled_because and "CAP_NO_SUCH_CAPABILITY" in ex.pool.disabled_because
        assert ex.describe()["pooled"] is False
    finally:
        ex.close()


def test_a_child_that_fails_before_the_program_runs_costs_a_restart_not_a_verdict():
    # a CPU limit above the zygote's own hard limit (3600 s) cannot be set in the forked child:
    # the zygote reports a failed set-up (not exit code 255 of the program) and the run goes fresh
    ex = _pooled()
    try:
        r = ex.run("print(6 * 7)", timeout_s=5000)
        assert (r.status, r.stdout) == ("ok", "42\n"), r
        assert ex.run("print(1)").stdout == "1\n"
    finally:
        ex.close()


def test_pool_beyond_its_live_limit_runs_fresh_instead_of_waiting():
    ex = _pooled()
    ex.pool.max_live = 1
    try:
        with ex.session("print(input())") as held:  # holds the only pooled sandbox
            assert held.run("a\n").stdout == "a\n"
            r = ex.run("import os\nprint(os.getppid())")  # no second zygote: a fresh sandbox
            assert r.status == "ok" and r.stdout == "1\n", r  # parent = bwrap's init, not a zygote
        assert ex.pool._live == 1 and len(ex.pool._idle) == 1
    finally:
        ex.close()
    assert ex.pool._live == 0


def test_a_forked_copy_of_the_judge_runs_fresh_instead_of_sharing_zygotes():
    ex = _pooled()
    try:
        assert ex.run("print(1)").stdout == "1\n"  # one idle zygote, owned by this process
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            out = ex.run("import os\nprint(os.getppid())").stdout
            os.write(w, out.encode())
            os._exit(0)
        os.close(w)
        os.waitpid(pid, 0)
        assert os.read(r, 100) == b"1\n"  # parent = bwrap's init: a fresh sandbox
        os.close(r)
        assert ex.run("import os\nprint(os.getppid())").stdout == "2\n"  # the zygote is intact
    finally:
        ex.close()


# --- close() (Ctrl-C of an evaluation) stops what is in flight, at every level --------------------


@pytest.mark.parametrize("level", _levels())
def test_close_kills_executions_in_flight_and_they_are_not_verdicts(level):
    lvl, _, variant = level.partition("-")
    ex = LocalExecutor(timeout_s=60.0, memory_mb=256, output_bytes=1 << 20, level=lvl, pooled=variant != "fresh")
    marker = "coderl-inflight-" + secrets.token_hex(8)
    # sleeps far past the test, with a child in a session of its own (as a daemon would)
    code = (
        PROLOGUE + "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', '__MARKER__'], start_new_session=True)\n"
        "time.sleep(600)\n"
    ).replace("__MARKER__", marker)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(ex.run(code))) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 120  # a safety net: the wait ends when all six processes run
        while len(_procs_with(marker)) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_procs_with(marker)) >= 6, _procs_with(marker)
        t0 = time.monotonic()
        ex.close()
        for t in threads:
            t.join(timeout=10)
        took = time.monotonic() - t0
    finally:
        ex.close()
    assert not any(t.is_alive() for t in threads) and took < 10, f"runs still going {took:.1f} s after close()"
    assert [r.status for r in results] == ["sandbox_error"] * 3, results  # an interrupted run is no verdict
    assert _wait_gone(marker) == [], "processes of interrupted runs survived close()"
    assert ex.run("print(1)").status == "sandbox_error"  # a closed executor runs nothing
