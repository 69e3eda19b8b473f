"""What one execution's ending means: exit code, signal, stderr and the stop reason -> a RunResult status.

Shared by every executor (the fresh process of local.py, the pooled zygote of pool.py, the
SandboxFusion backend), so the same ending gets the same status whoever ran the program.
"""

from __future__ import annotations

import signal

from .isolation import Limits
from .types import KILLED_FROM_OUTSIDE, RunResult

_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


def _signal_of(rc: int | None, level: str) -> int | None:
    if rc is None:
        return None
    if rc < 0:
        return -rc
    # bubblewrap and unshare report a child killed by signal N as exit code 128+N
    if level in ("bwrap", "unshare") and 128 < rc < 128 + 65:
        return rc - 128
    return None


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def is_memory_error(stderr: str) -> bool:
    """A memory-limit hit: Python's MemoryError (or an allocation failure message) ends stderr."""
    tail = [ln for ln in stderr.strip().splitlines()[-3:]]
    return any(m in ln for ln in tail for m in _MEMORY_MARKERS)


def classify(
    rc: int | None, out: bytes, stderr: str, wall: float, cpu: float, reason: str | None, limits: Limits, level: str
) -> RunResult:
    """reason: the executor's own stop ("timeout", "output_limit") or None; level: the isolation level that
    ran it (bwrap and unshare report a signal N as exit code 128+N)."""
    stdout = out.decode("utf-8", "replace")
    if reason == "timeout":
        return RunResult(
            "timeout", rc, stdout, stderr, wall, cpu, f"wall-clock limit of {limits.timeout_s:g} s reached"
        )
    if reason == "output_limit":
        return RunResult(
            "output_limit",
            rc,
            stdout,
            stderr,
            wall,
            cpu,
            f"output passed the cap of {limits.output_bytes} bytes; the program was stopped",
        )
    sig = _signal_of(rc, level)
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= limits.cpu_soft_s):
        return RunResult("timeout", rc, stdout, stderr, wall, cpu, f"CPU-time limit of {limits.cpu_soft_s} s reached")
    if sig == signal.SIGKILL:  # below the CPU limit, before the deadline: the host (OOM killer) did it
        return RunResult(
            "sandbox_error",
            rc,
            stdout,
            stderr,
            wall,
            cpu,
            f"{KILLED_FROM_OUTSIDE} (CPU {cpu:.2f} s, wall {wall:.2f} s): the host's OOM killer or "
            "an operator; not the program's verdict",
        )
    # killed by SIGXFSZ, or Python (which ignores SIGXFSZ) died of EFBIG
    if sig == signal.SIGXFSZ or (rc != 0 and "[Errno 27] File too large" in _last_line(stderr)):
        return RunResult(
            "output_limit",
            rc,
            stdout,
            stderr,
            wall,
            cpu,
            f"a file passed the size limit of {limits.output_bytes} bytes",
        )
    if rc == 0:
        return RunResult("ok", 0, stdout, stderr, wall, cpu)
    if is_memory_error(stderr):
        return RunResult(
            "memory_exceeded", rc, stdout, stderr, wall, cpu, f"address-space limit of {limits.memory_mb} MB reached"
        )
    msg = f"killed by signal {sig}" if sig else f"exit code {rc}"
    return RunResult("runtime_error", rc, stdout, stderr, wall, cpu, msg)
