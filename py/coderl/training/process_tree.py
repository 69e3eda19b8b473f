"""Start a command in its own session and stop it with every descendant.

torchrun starts its workers in new sessions of their own, so killing torchrun's process group
leaves the workers running (measured with verl 0.9.1). We therefore snapshot the whole tree of
descendants (by parent pid) before signalling, and signal each of them.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import psutil

log = logging.getLogger(__name__)


def start(cmd: Sequence[str], env: dict[str, str], cwd: str | None = None) -> subprocess.Popen:
    """Popen in a new session, stdout+stderr merged into one text pipe (line buffered)."""
    return subprocess.Popen(
        list(cmd),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        text=True,
        bufsize=1,
        errors="replace",
    )


# A program started with nohup or `&` inherits SIGINT ignored, and an ignored signal stays ignored across
# exec: a SIGINT sent on purpose (Ctrl-C as a terminal sends it) would then be lost. This trampoline resets
# it after the fork and execs the command, without preexec_fn (unsafe in a process with threads: CUDA, Ray).
_DEFAULT_SIGINT = (
    "import os,signal,sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
)


def with_default_sigint(cmd: Sequence[str]) -> list[str]:
    """`cmd` run with SIGINT at its default whatever this process has (the pid stays the command's)."""
    return [sys.executable, "-I", "-S", "-c", _DEFAULT_SIGINT, *cmd]


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the process and all its descendants (snapshotted first), then SIGKILL what is left."""
    tree = descendants(proc.pid)
    procs = [p for p in tree]
    try:
        procs.insert(0, psutil.Process(proc.pid))
    except psutil.NoSuchProcess:
        pass
    for p in procs:
        _signal(p, signal.SIGTERM)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    _gone, alive = psutil.wait_procs(procs, timeout=grace_s)
    # children started while we waited (e.g. torchrun restarting a worker) are caught here too
    late = [c for p in alive for c in _safe_children(p)]
    for p in [*alive, *late]:
        log.warning("process %d did not stop on SIGTERM; killing it", p.pid)
        _signal(p, signal.SIGKILL)
    psutil.wait_procs([*alive, *late], timeout=5)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _safe_children(p: psutil.Process) -> list[psutil.Process]:
    try:
        return p.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal(p: psutil.Process, sig: int) -> None:
    try:
        p.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass


def wait_gone(pids: Sequence[int], timeout_s: float = 10.0) -> list[int]:
    """Pids still alive after timeout_s (for tests and for the launcher's final check)."""
    deadline = time.monotonic() + timeout_s
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.1)
    return alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
