"""Pre-started bwrap sandboxes, each running zygote.py, reused across executions and problems.

A `Zygote` is one sandbox with its interpreter waiting for requests; `run()` sends a program, its
stdin and limits and gets the RunResult of one forked execution (zygote.py says what each
execution gets fresh). A `ZygotePool` keeps idle zygotes for `LocalExecutor.run()` and for
sessions, so an execution costs a fork instead of a bubblewrap set-up and an interpreter start.

A zygote is retired (killed, its uid's processes killed, a new one started on demand) after
`max_executions` executions and after any anomaly: a protocol error, a death, no answer in time,
or a clean-up inside the sandbox that did not succeed. An execution whose zygote was lost is re-run
in a fresh sandbox, so a program that attacks its zygote gets the verdict a fresh process gives,
never a sandbox_error. When zygotes cannot be started at all, the pool says so once and the
executor runs every execution in a fresh sandbox.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import select
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import isolation
from .isolation import Limits
from .outcome import classify
from .types import RunResult

log = logging.getLogger(__name__)

ZYGOTE_SRC = Path(__file__).with_name("zygote.py")
PROTOCOL_MARGIN_S = 10.0  # beyond an execution's own limit, for the zygote to answer
START_TIMEOUT_S = 15.0
PROG_MARGIN_BYTES = 4 << 20
MAX_START_FAILURES = 3  # in a row; then the pool is off for this process
# Capabilities the root-mode zygote keeps (it needs nothing else): drop to the program's uid,
# kill what the program left, hand /tmp to the program, and wipe what it wrote.
ZYGOTE_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER")


class ZygoteLost(Exception):
    """The pre-started sandbox failed (an infrastructure fault): re-run the execution fresh."""


def zygote_command(python: str, limits: Limits, uid: int | None) -> list[str]:
    """prlimit + bwrap + `python -I -c <zygote.py>`; with `uid` (root) the zygote drops to it per child."""
    # The zygote lives for many executions and writes each one's stdin (any size) into a memfd:
    # a generous CPU limit, no file-size limit; each child sets its own limits.
    pre = isolation.prlimit_prefix(Limits(3600.0, limits.memory_mb, 1 << 50), with_nproc=False)
    # /tmp also holds prog.py here (a read-only bind outside the tmpfs in a fresh run): a margin, so
    # the largest file still meets the file-size limit (output_limit) before a full disk
    cmd = [
        *isolation.bwrap_common(
            tmp_bytes=limits.output_bytes + PROG_MARGIN_BYTES, shm_bytes=limits.output_bytes + 4096
        ),
        "--mqueue",
        "/dev/mqueue",
    ]
    if uid is not None:
        # Started by root: no user namespace, so the zygote (root, a few capabilities) and the
        # program (uid, none) are different users: the program cannot signal or trace the zygote.
        cmd += [
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--cap-drop",
            "ALL",
        ]
        for cap in ZYGOTE_CAPS:
            cmd += ["--cap-add", cap]
    else:
        cmd += ["--unshare-all"]
    cmd += ["--", python, "-I", "-c", ZYGOTE_SRC.read_text(encoding="utf-8")]
    if uid is not None:
        cmd += ["--drop-to", str(uid)]
    return pre + cmd


class Zygote:
    """One pre-started sandbox; used by one thread at a time (the pool hands it out)."""

    def __init__(self, executor) -> None:
        self.executor = executor
        self.limits: Limits = executor.defaults
        self.executions = 0
        self.retired = False
        self.on_close = None  # the pool's count of live zygotes
        self._slot = executor._uids.acquire()
        self._uid = self._slot[0] if self._slot else None
        self._proc: subprocess.Popen | None = None
        self._err = tempfile.TemporaryFile(prefix="coderl-zygote-err-")
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        cmd = zygote_command(self.executor.python, self.limits, self._uid)
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            cwd="/",
            env=isolation.clean_env("/tmp"),
            start_new_session=True,
            close_fds=True,
        )
        try:
            hello = self._recv(time.monotonic() + START_TIMEOUT_S)[0]
        except ZygoteLost as e:
            raise ZygoteLost(f"{e}; bwrap/zygote said: {self._stderr_tail()}") from None
        if not hello.get("ready"):
            raise ZygoteLost(f"unexpected greeting {hello!r}")

    @property
    def usable(self) -> bool:
        return not self.retired and self._proc is not None and self._proc.poll() is None

    def run(self, code: str, stdin: bytes, limits: Limits) -> RunResult:
        """One execution; raises ZygoteLost (and retires itself) when the sandbox failed."""
        if not self.usable:
            raise ZygoteLost("the zygote is not running")
        src = code.encode("utf-8", "surrogateescape")
        req = {
            "prog_len": len(src),
            "stdin_len": len(stdin),
            "timeout_s": limits.timeout_s,
            "cpu_s": limits.cpu_soft_s,
            "memory_mb": limits.memory_mb,
            "output_bytes": limits.output_bytes,
            "nproc": isolation.NPROC_LIMIT if self._uid is not None else None,
        }
        self.executions += 1
        try:
            self._send(req, src + stdin)
            head, out, err = self._recv(time.monotonic() + limits.timeout_s + PROTOCOL_MARGIN_S)
            if "exit" not in head:
                raise ZygoteLost(f"the zygote refused the execution: {head.get('why', head)}")
        except (OSError, ValueError, KeyError, ZygoteLost) as e:
            self.retire()
            raise ZygoteLost(str(e) or type(e).__name__) from None
        if not head.get("clean", False):
            log.warning("sandbox pool: retiring a zygote whose clean-up failed (%s)", head.get("why"))
            self.retire()
        reason = "timeout" if head["timeout"] else None
        if reason is None and max(head["out_size"], head["err_size"]) > limits.output_bytes:
            reason = "output_limit"  # as a fresh run: more than the cap (the file limit is cap + 1)
        return classify(
            head["exit"],
            out[: limits.output_bytes],
            err.decode("utf-8", "replace"),
            head["wall_s"],
            head["cpu_s"],
            reason,
            limits,
            "zygote",
        )

    def retire(self) -> None:
        self.retired = True
        self._kill()

    def kill_processes(self) -> None:
        """SIGKILL the sandbox and its program (from another thread): the owner then sees it exit."""
        proc = self._proc
        if proc is not None:
            try:
                os.killpg(proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        if self._uid is not None:
            isolation.kill_uid(self._uid)

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
            for f in (self._proc.stdin, self._proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            self._proc.wait()
            self._proc = None
        if self._uid is not None:
            isolation.kill_uid(self._uid)

    def close(self) -> None:
        self.retired = True
        self._kill()
        if self._slot is not None:
            self.executor._uids.release(self._slot)
            self._slot = None
        if not self._err.closed:
            self._err.close()
        callback, self.on_close = self.on_close, None
        if callback is not None:
            callback()

    def _stderr_tail(self) -> str:
        try:
            self._err.seek(0)
            return self._err.read()[-1000:].decode("utf-8", "replace").strip() or "(nothing)"
        except (OSError, ValueError):
            return "(unreadable)"

    # -- framing ------------------------------------------------------------------------------------

    def _send(self, header: dict, blob: bytes) -> None:
        h = json.dumps(header).encode()
        self._proc.stdin.write(struct.pack("<I", len(h)) + h + blob)
        self._proc.stdin.flush()

    def _recv(self, deadline: float) -> tuple[dict, bytes, bytes]:
        fd = self._proc.stdout.fileno()
        (n,) = struct.unpack("<I", _read_exact(fd, 4, deadline))
        if n > 1 << 20:
            raise ZygoteLost(f"a header of {n} bytes from the zygote")
        head = json.loads(_read_exact(fd, n, deadline))
        out = _read_exact(fd, int(head.get("out_len", 0)), deadline)
        err = _read_exact(fd, int(head.get("err_len", 0)), deadline)
        return head, out, err


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise ZygoteLost("no answer from the zygote in time")
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise ZygoteLost("the zygote exited")
        buf += chunk
    return bytes(buf)


class ZygotePool:
    """Idle zygotes for any thread; started from one long-lived thread (see `_spawner`)."""

    def __init__(self, executor, max_executions: int, max_live: int = 64) -> None:
        self.executor = executor
        self.max_executions = max(1, int(max_executions))
        # Each live zygote holds a uid slot (shared with other judging processes on the host):
        # beyond this many at once, executions run fresh rather than wait for a slot.
        self.max_live = max(1, int(max_live))
        self._live = 0
        self._idle: list[Zygote] = []
        self.closed = False  # after close(): no zygote is started or lent
        self._busy: set[Zygote] = set()  # lent out (an execution or a session): close() kills these too
        self._lock = threading.Lock()
        self._failures = 0
        self.disabled_because: str | None = None
        self.served = 0  # executions that ran in a pooled sandbox (tests check that the pool was used)
        # bwrap --die-with-parent signals the zygote when the THREAD that started it exits, and
        # judge worker threads come and go: zygotes are started from this one long-lived thread.
        self._spawner = cf.ThreadPoolExecutor(1, thread_name_prefix="coderl-zygote-start")
        self._owner_pid = os.getpid()  # a forked copy of this process must not talk to these zygotes

    def acquire(self) -> Zygote | None:
        """An idle zygote, or a new one; None when the pool is off (run fresh instead)."""
        if os.getpid() != self._owner_pid or self.closed:
            return None
        with self._lock:
            stale = []
            while self._idle:
                z = self._idle.pop()
                if z.usable:
                    break
                stale.append(z)
            else:
                z = None
        for old in stale:
            old.close()  # outside the lock: close() calls back into the pool
        if z is not None:
            with self._lock:
                self._busy.add(z)
            return z
        with self._lock:
            if self.disabled_because or self._live >= self.max_live:
                return None
            self._live += 1
        try:
            z = self._spawner.submit(Zygote, self.executor).result()
        except Exception as e:  # never a verdict: the caller runs the execution fresh
            with self._lock:
                self._live -= 1
            self.note_failure(f"could not start a zygote: {e}")
            return None
        z.on_close = self._closed
        with self._lock:
            self._busy.add(z)
            if self.closed:  # close() ran while it was starting
                z.kill_processes()
        return z

    def _closed(self) -> None:
        with self._lock:
            self._live -= 1

    def note_failure(self, why: str) -> None:
        """A start or an execution failed; after MAX_START_FAILURES in a row the pool is off."""
        with self._lock:
            self._failures += 1
            if self._failures >= MAX_START_FAILURES and not self.disabled_because:
                self.disabled_because = why
                log.warning(
                    "sandbox pool: off for this process after %d failures in a row (%s); "
                    "every execution gets a fresh sandbox",
                    self._failures,
                    why,
                )
        log.warning("sandbox pool: %s; this execution gets a fresh sandbox", why)

    def note_success(self) -> None:
        """An execution ran in a pooled sandbox (single runs and session inputs alike)."""
        with self._lock:
            self.served += 1
        if self._failures:
            with self._lock:
                self._failures = 0

    def release(self, z: Zygote) -> None:
        with self._lock:
            self._busy.discard(z)
        if z.usable and z.executions < self.max_executions:
            with self._lock:
                self._idle.append(z)
        else:
            z.close()

    def run(self, code: str, stdin: bytes, limits: Limits) -> RunResult | None:
        """One execution in a pooled sandbox; None when it must run fresh (pool off, zygote lost)."""
        z = self.acquire()
        if z is None:
            return None
        try:
            r = z.run(code, stdin, limits)
        except ZygoteLost as e:
            self.note_failure(f"zygote lost ({e})")
            return None
        finally:
            self.release(z)
        self.note_success()
        return r

    def close(self) -> None:
        """Stop every zygote: idle ones are closed; busy ones are killed (their process group and uid),
        so the thread waiting on one sees it exit and retires it itself (no pipe closed under it)."""
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for z in idle:
            z.close()
        for z in busy:
            z.kill_processes()
