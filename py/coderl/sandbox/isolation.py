"""Which isolation this machine allows, and the command line that applies it.

Levels, strongest first (docs/sandbox.md, "Isolation levels"):

- ``bwrap``:   bubblewrap: read-only /, private size-limited /tmp and /dev/shm, no network,
               own PID/IPC/UTS/user namespaces, clean environment.
- ``unshare``: util-linux unshare: no network, own PID/IPC/UTS/mount namespaces (no private /tmp).
- ``rlimits``: a plain process in its own session.

At every level the same limits hold (applied by util-linux ``prlimit`` in the exec chain, which
is thread-safe unlike ``preexec_fn``): address space, CPU time, file size, no core dumps and,
when we run as root, a process count for a dedicated unprivileged uid per concurrent execution
(RLIMIT_NPROC does not apply to root, and one uid per slot keeps one execution's fork bomb from
starving another's). The level is detected once per process by actually running ``print(1+1)``.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

from ..errors import SandboxUnavailable

log = logging.getLogger(__name__)

LEVELS = ("bwrap", "unshare", "rlimits")
SLOT_UID_BASE = 61000  # uids 61000..61000+slots are used only by sandboxed programs
NPROC_LIMIT = 64  # processes per execution slot (a fork bomb stops here)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
PROG_IN_SANDBOX = "/tmp/prog.py"  # where bwrap mounts the program (inside the private /tmp)


# What each level guarantees beyond the limits (said at start-up and by `coderl sandbox info`).
GUARANTEES = {
    "bwrap": "no network; read-only /; private /tmp, /dev/shm; own PID/IPC/UTS namespaces; whole tree killed",
    "unshare": "no network (own network namespace); own PID/IPC/UTS/mount namespaces; whole tree killed; "
    "/ and the host's /tmp, /var/tmp, /dev/shm are visible (world-writable places are cleaned per run)",
    "rlimits": "limits, and internet/packet sockets refused by a seccomp filter (x86_64 and aarch64 Linux; "
    "elsewhere the NETWORK IS REACHABLE); the host's files are readable where world-readable; "
    "unprivileged uid per execution when root (else the program can signal the judge's processes)",
}

# What a weaker level does NOT hold that bwrap does (env-check and the start-up line say it; the
# hostile corpus in tests/sandbox/test_sandbox_hostile.py is contained at every level, these are the gaps).
NOT_HELD = {
    "bwrap": "",
    "unshare": "no read-only /: the program can write wherever the host allows its uid (as root: a dedicated uid, "
    "so world-writable places only); no private /tmp and /dev/shm: it writes into the host's /tmp, "
    "/var/tmp and /dev/shm (deleted after the run), with no cap on the total beyond the per-file size "
    "limit x the files it makes within the time limit; host files are readable where world-readable; "
    "no pooled sandboxes (a fresh interpreter per execution: slower judging)",
    "rlimits": "no network namespace (a seccomp filter refuses internet sockets on "
    "x86_64/aarch64 only: elsewhere the network is reachable); no PID namespace (leftover processes are "
    "found through the dedicated uid, which needs root: without root they can outlive the run and signal "
    "the judge's processes); no IPC namespace (SysV IPC objects left by a program are not removed)",
}
NOT_HELD["rlimits"] += "; and as at unshare: " + NOT_HELD["unshare"]
INSTALL_BWRAP = "apt-get install -y bubblewrap"

# The rlimits level has no network namespace: this launcher (run by the sandbox's python, stdlib only)
# installs a seccomp filter that makes socket() fail with EACCES for every family but AF_UNIX and
# io_uring_setup() fail with ENOSYS (io_uring can open sockets too), then execs the program. Filters
# survive execve and cannot be removed. Where the architecture is unknown or seccomp is unavailable it
# execs the program unfiltered (GUARANTEES says so) rather than failing every run as the model's fault.
NETBLOCK_LAUNCHER = r"""
import ctypes, os, platform, struct, sys
arch = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}.get(platform.machine())
if arch:
    audit, sock = arch
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, eacces, enosys = 0x7FFF0000, 0x00050000 | 13, 0x00050000 | 38
    prog = [(ld, 0, 0, 4), (jeq, 0, 6, audit), (ld, 0, 0, 0), (jge, 5, 0, 0x40000000), (jeq, 5, 0, 425),
            (jeq, 0, 2, sock), (ld, 0, 0, 16), (jeq, 0, 1, 1), (ret, 0, 0, allow), (ret, 0, 0, eacces),
            (ret, 0, 0, enosys)]
    raw = b"".join(struct.pack("<HBBI", *i) for i in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))
    class F(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    libc = ctypes.CDLL(None, use_errno=True)
    f = F(len(prog), ctypes.addressof(buf))
    if libc.prctl(38, 1, 0, 0, 0) == 0:
        libc.prctl(22, 2, ctypes.byref(f), 0, 0)
os.execv(sys.executable, [sys.executable, "-I", sys.argv[1]])
"""


@dataclass(frozen=True)
class Limits:
    timeout_s: float
    memory_mb: int
    output_bytes: int  # stdout cap, stderr cap, largest file, private /tmp size

    @property
    def cpu_soft_s(self) -> int:
        # CPU time can only be spent slower than wall time by a single-threaded program,
        # so the wall timeout is what normally fires; the CPU limit stops threads spinning.
        return int(math.ceil(self.timeout_s)) + 1

    @property
    def file_size_limit(self) -> int:
        # RLIMIT_FSIZE: one byte past the cap, so a stream (a pooled run's stdout is a file) that
        # passed the cap is told from one that met it exactly: both paths flag more than cap bytes.
        return self.output_bytes + 1


def find_python() -> str:
    """The interpreter sandboxed programs run with: the system python3, outside /tmp and /root.

    A virtualenv under /tmp would be hidden by the private /tmp, and one under /root is not
    readable by the unprivileged uid, so the system interpreter is preferred.
    """
    env = os.environ.get("CODERL_SANDBOX_PYTHON")
    candidates = [env] if env else []
    candidates += ["/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3") or ""]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return os.path.realpath(c)
    raise SandboxUnavailable(
        "no python3 interpreter found for sandboxed programs (looked in /usr/bin, /usr/local/bin, PATH); "
        "install python3 or set CODERL_SANDBOX_PYTHON to its path"
    )


def is_root() -> bool:
    return os.geteuid() == 0


def prlimit_prefix(limits: Limits, *, with_nproc: bool) -> list[str]:
    mem = limits.memory_mb * 1024 * 1024
    cpu = limits.cpu_soft_s
    args = [
        "prlimit",
        f"--as={mem}",
        "--core=0",
        f"--cpu={cpu}:{cpu + 1}",
        f"--fsize={limits.file_size_limit}",
    ]
    if with_nproc:
        args.append(f"--nproc={NPROC_LIMIT}")
    return args + ["--"]


def bwrap_common(tmp_bytes: int, shm_bytes: int) -> list[str]:
    """What every bwrap sandbox (fresh and pooled) gets: the host read-only, its own /dev, /proc and
    size-capped /tmp and /dev/shm, a new session, killed with its parent, an environment of three
    variables, working folder /tmp. The caller adds the namespaces and what it runs."""
    return [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--size",
        str(tmp_bytes),
        "--tmpfs",
        "/tmp",
        "--size",
        str(shm_bytes),
        "--tmpfs",
        "/dev/shm",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--setenv",
        "PATH",
        SANDBOX_PATH,
        "--setenv",
        "LANG",
        "C.UTF-8",
        "--setenv",
        "HOME",
        "/tmp",
        "--chdir",
        "/tmp",
    ]


def wrap_command(level: str, python: str, prog_host: str, limits: Limits, status_fd: int | None) -> list[str]:
    """The full command: prlimit [limits] -- <isolation> -- python -I prog."""
    pre = prlimit_prefix(limits, with_nproc=is_root())
    if level == "bwrap":
        size = limits.output_bytes + 4096  # a page more: a file meets the file limit (cap + 1) first
        cmd = [
            *bwrap_common(tmp_bytes=size, shm_bytes=size),
            "--unshare-all",
            "--ro-bind",
            prog_host,
            PROG_IN_SANDBOX,
        ]
        if status_fd is not None:
            cmd += ["--json-status-fd", str(status_fd)]
        return pre + cmd + ["--", python, "-I", PROG_IN_SANDBOX]
    if level == "unshare":
        ns = [
            "unshare",
            "--user",
            "--net",
            "--pid",
            "--ipc",
            "--uts",
            "--mount",
            "--fork",
            "--kill-child",
            "--mount-proc",
        ]
        return pre + ns + ["--", python, "-I", prog_host]
    if level == "rlimits":
        return pre + [python, "-I", "-c", NETBLOCK_LAUNCHER, prog_host]
    raise SandboxUnavailable(f"unknown isolation level {level!r}; choose one of {', '.join(LEVELS)}")


def clean_env(workdir: str) -> dict[str, str]:
    """The whole environment a sandboxed program sees: nothing of the host's (tokens, keys)."""
    return {"PATH": SANDBOX_PATH, "LANG": "C.UTF-8", "HOME": workdir}


class UidPool:
    """One unprivileged uid per concurrent execution (root only), exclusive across processes.

    Several processes (an evaluation, a data validation, the tests) may judge at once on one
    host, and each kills every process of its uid after a run, so a uid is held through an
    flock on a root-only lock file for the whole execution. Threads wait when all are taken.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._dir = os.path.join(tempfile.gettempdir(), "coderl-sandbox-uids")
        if is_root():
            os.makedirs(self._dir, mode=0o700, exist_ok=True)
            os.chmod(self._dir, 0o700)
        self._local = threading.Lock()
        self._next = 0

    def acquire(self) -> tuple[int, int] | None:
        """(uid, lock fd), or None when not root (no uid is dropped to)."""
        if not is_root():
            return None
        while True:
            with self._local:
                start = self._next
                self._next = (self._next + 1) % self.size
            for k in range(self.size):
                uid = SLOT_UID_BASE + (start + k) % self.size
                fd = os.open(os.path.join(self._dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return uid, fd
                except BlockingIOError:
                    os.close(fd)
            time.sleep(0.01)

    def release(self, slot: tuple[int, int] | None) -> None:
        if slot is not None:
            os.close(slot[1])  # closing drops the flock


def kill_uid(uid: int) -> int:
    """SIGKILL every process owned by `uid` until none is left; returns how many were killed.

    This is what removes daemonized children (setsid + double fork) at every level: the uid is
    used by this one execution slot only.
    """
    killed = 0
    for _ in range(100):
        found = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid != uid:
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    state = f.read().rsplit(b")", 1)[1].split()[0]
                if state in (b"Z", b"X"):
                    continue
                os.kill(int(entry.name), 9)
                found += 1
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
        killed += found
        if not found:
            return killed
    log.warning("processes of sandbox uid %d kept reappearing after 100 kill sweeps", uid)
    return killed


WORLD_WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def remove_files_of_uid(uid: int) -> int:
    """Delete top-level entries of the world-writable dirs owned by `uid` (levels without a private /tmp)."""
    removed = 0
    for d in WORLD_WRITABLE_DIRS:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                if e.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path, ignore_errors=True)
                else:
                    os.unlink(e.path)
                removed += 1
            except OSError:
                continue
    return removed


_detect_lock = threading.Lock()
_detected: dict[str, str] = {}


def detect_level(probe) -> str:
    """The strongest level whose probe (a callable level -> (ok, why)) succeeds; cached per process.

    CODERL_SANDBOX_LEVEL forces a level (tests, or a machine where detection misjudges).
    """
    forced = os.environ.get("CODERL_SANDBOX_LEVEL")
    if forced:
        if forced not in LEVELS:
            raise SandboxUnavailable(f"CODERL_SANDBOX_LEVEL={forced!r} is not one of {', '.join(LEVELS)}")
        return forced
    with _detect_lock:
        if "level" in _detected:
            return _detected["level"]
        reasons = []
        for level in LEVELS:
            if level == "bwrap" and not shutil.which("bwrap"):
                reasons.append(f"bwrap: not installed ({INSTALL_BWRAP})")
                continue
            if level == "unshare" and not shutil.which("unshare"):
                reasons.append("unshare: not installed")
                continue
            ok, why = probe(level)
            if ok:
                if reasons:
                    log.warning(
                        "sandbox: using isolation level %r; stronger levels unavailable: %s", level, "; ".join(reasons)
                    )
                _detected["level"] = level
                return level
            reasons.append(f"{level}: {why}")
        raise SandboxUnavailable("no isolation level works on this machine: " + "; ".join(reasons))


def have_prlimit() -> bool:
    return shutil.which("prlimit") is not None


def check_tools() -> None:
    if not have_prlimit():
        raise SandboxUnavailable(
            "util-linux 'prlimit' not found on PATH; it applies the resource limits (apt-get install -y util-linux)"
        )
    try:
        subprocess.run(["prlimit", "--version"], capture_output=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as e:
        raise SandboxUnavailable(f"'prlimit --version' failed ({e}); reinstall util-linux") from None
