"""The embedded executor: one fresh, limited, isolated process per execution (no server needed)."""

from __future__ import annotations

import logging
import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from . import isolation
from .isolation import Limits
from .outcome import classify
from .types import RunResult

log = logging.getLogger(__name__)

STDERR_KEEP = 16 * 1024  # bytes of stderr kept in the RunResult (its tail: tracebacks end there)
_READ = 65536


class LocalExecutor:
    """Thread-safe: each run() takes its own uid slot, temp dir and pipes."""

    def __init__(
        self,
        *,
        timeout_s: float,
        memory_mb: int,
        output_bytes: int,
        slots: int = 256,
        level: str | None = None,
        pooled: bool | None = None,
        pool_max_executions: int = 1000,
    ) -> None:
        isolation.check_tools()
        self.python = isolation.find_python()
        self.defaults = Limits(float(timeout_s), int(memory_mb), int(output_bytes))
        self._uids = isolation.UidPool(slots)
        self._base_tmp = tempfile.gettempdir()
        # close() (Ctrl-C, the end of an evaluation) kills what is in flight and refuses new runs
        self._stopped = threading.Event()
        self._in_flight: dict[int, tuple[subprocess.Popen, int | None]] = {}
        self._in_flight_lock = threading.Lock()
        self.isolation_level = level or isolation.detect_level(self._probe)
        if pooled is None:
            pooled = not (os.environ.get("CODERL_SANDBOX_NO_POOL") or os.environ.get("CODERL_SANDBOX_NO_ZYGOTE"))
        # Pooled sandboxes need bwrap's PID namespace (the zygote kills everything left with kill(-1)).
        self.pool = None
        if pooled and self.isolation_level == "bwrap":
            from .pool import ZygotePool

            self.pool = ZygotePool(self, pool_max_executions, max_live=min(64, max(1, slots // 4)))
        log.info(
            "sandbox: local executor, isolation %r: %s; %s",
            self.isolation_level,
            isolation.GUARANTEES[self.isolation_level],
            f"pooled sandboxes (recycled after {pool_max_executions} executions)"
            if self.pool is not None
            else "one fresh sandbox per execution",
        )
        if isolation.NOT_HELD.get(self.isolation_level):
            log.warning(
                "sandbox: isolation %r does not hold what bwrap does: %s",
                self.isolation_level,
                isolation.NOT_HELD[self.isolation_level],
            )

    # -- public --------------------------------------------------------------------------------

    def run(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult:
        limits = self.limits_for(timeout_s, memory_mb)
        if self.pool is not None and limits.memory_mb <= self.defaults.memory_mb and not self._stopped.is_set():
            r = self.pool.run(code, stdin.encode("utf-8"), limits)
            if r is not None:
                return self.unless_closed(r)
        return self.run_fresh(code, stdin, limits)

    def run_fresh(self, code: str, stdin: str, limits: Limits) -> RunResult:
        """One execution in a sandbox set up for it alone (the fallback of the pooled path)."""
        if self._stopped.is_set():
            return self.unless_closed(None)
        return self.unless_closed(self._run(self.isolation_level, code, stdin, limits))

    def unless_closed(self, r: RunResult | None) -> RunResult:
        """An execution that close() cut short is an infrastructure failure, never the program's verdict."""
        if self._stopped.is_set():
            return RunResult(
                "sandbox_error",
                message="the sandbox was stopped (interrupted, or closed) before this "
                "execution finished; nothing was judged",
            )
        return r

    def limits_for(self, timeout_s: float | None, memory_mb: int | None) -> Limits:
        return Limits(
            float(timeout_s if timeout_s is not None else self.defaults.timeout_s),
            int(memory_mb if memory_mb is not None else self.defaults.memory_mb),
            self.defaults.output_bytes,
        )

    def session(self, code: str):
        """Run one program against many inputs: a pooled sandbox forks per input (bwrap level).

        Returns a context manager with run(stdin, timeout_s=None, memory_mb=None) -> RunResult.
        """
        from .session import DirectSession, PooledSession

        if self.pool is not None:
            return PooledSession(self, code, self.pool)
        return DirectSession(self, code)

    @property
    def closed(self) -> bool:
        return self._stopped.is_set()

    def close(self) -> None:
        """Stop everything this executor started: pooled sandboxes, and every execution still running
        (at the unshare/rlimits levels nothing else would: they run in sessions of their own and do
        not die with this process). Runs cut short, and any run() after this, are `sandbox_error`."""
        self._stopped.set()
        if self.pool is not None:
            self.pool.close()
        with self._in_flight_lock:
            running = list(self._in_flight.values())
        for proc, uid in running:
            _kill_tree(proc, uid)

    def health(self) -> tuple[bool, str]:
        r = self.run("print(1+1)", timeout_s=min(10.0, self.defaults.timeout_s))
        if r.status == "ok" and r.stdout.strip() == "2":
            return True, f"local executor ok (isolation {self.isolation_level}, python {self.python})"
        return (
            False,
            f"local executor failed print(1+1): status={r.status} stdout={r.stdout[:200]!r} stderr={r.stderr[-500:]!r} {r.message}",
        )

    def describe(self) -> dict:
        return {
            "backend": "local",
            "isolation_level": self.isolation_level,
            "python": self.python,
            "uid_drop": isolation.is_root(),
            "nproc_limit": isolation.NPROC_LIMIT if isolation.is_root() else None,
            "timeout_s": self.defaults.timeout_s,
            "memory_mb": self.defaults.memory_mb,
            "output_bytes": self.defaults.output_bytes,
            "pooled": self.pool is not None and not self.pool.disabled_because,
            "pool_max_executions": self.pool.max_executions if self.pool is not None else None,
            "guarantees": isolation.GUARANTEES[self.isolation_level],
        }

    # -- internals -----------------------------------------------------------------------------

    def _probe(self, level: str) -> tuple[bool, str]:
        r = self._run(level, "print(1+1)", "", Limits(10.0, max(256, self.defaults.memory_mb), 1 << 20))
        if r.status == "ok" and r.stdout.strip() == "2":
            return True, "ok"
        return False, f"{r.status}: {(r.message or r.stderr)[-300:].strip()}"

    def _run(self, level: str, code: str, stdin: str, limits: Limits) -> RunResult:
        slot = self._uids.acquire()
        uid = slot[0] if slot else None
        workdir = tempfile.mkdtemp(prefix="coderl-sbx-", dir=self._base_tmp)
        try:
            prog = os.path.join(workdir, "prog.py")
            with open(prog, "w", encoding="utf-8") as f:
                f.write(code)
            os.chmod(prog, 0o644)
            if uid is not None:
                os.chown(workdir, uid, uid)  # writable cwd at the unshare/rlimits levels
            return self._spawn(level, prog, workdir, stdin.encode("utf-8"), limits, uid)
        finally:
            if uid is not None:
                isolation.kill_uid(uid)
                if level != "bwrap":  # no private /tmp: remove what the program left in shared dirs
                    isolation.remove_files_of_uid(uid)
            shutil.rmtree(workdir, ignore_errors=True)
            self._uids.release(slot)

    def _spawn(self, level: str, prog: str, workdir: str, stdin: bytes, limits: Limits, uid: int | None) -> RunResult:
        status_r = status_w = None
        if level == "bwrap":
            status_r, status_w = os.pipe()
        cmd = isolation.wrap_command(level, self.python, prog, limits, status_w)
        ids = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
        # stdin is a regular file, as on contest judges (and in sessions): programs that size their
        # read with fstat(0) work, and a large input never blocks on a pipe. The file has no name
        # (O_TMPFILE): only fd 0 reaches it, so a functional program's harness, which swaps fd 0
        # for /dev/null once it has read the completion token, leaves no path to the token.
        t0 = time.monotonic()
        try:
            with tempfile.TemporaryFile(dir=workdir) as stdin_file:
                stdin_file.write(stdin)
                stdin_file.seek(0)
                proc = subprocess.Popen(
                    cmd,
                    stdin=stdin_file,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    cwd=workdir,
                    env=isolation.clean_env(workdir),
                    start_new_session=True,
                    close_fds=True,
                    pass_fds=(status_w,) if status_w is not None else (),
                    **ids,
                )
        except OSError as e:
            for fd in (status_r, status_w):
                if fd is not None:
                    os.close(fd)
            return RunResult("sandbox_error", message=f"could not start the sandbox ({cmd[0]}): {e}")
        if status_w is not None:
            os.close(status_w)
        with self._in_flight_lock:
            self._in_flight[proc.pid] = (proc, uid)
        if self._stopped.is_set():  # close() ran while this one was starting
            _kill_tree(proc, uid)
        try:
            out, err, reason = _communicate(proc, t0 + limits.timeout_s, limits.output_bytes)
        finally:
            _kill_tree(proc, uid)
            with self._in_flight_lock:
                self._in_flight.pop(proc.pid, None)
        _, wstatus, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(wstatus)
        wall = time.monotonic() - t0
        cpu = rusage.ru_utime + rusage.ru_stime
        setup_ok = True
        if status_r is not None:
            setup_ok = b"child-pid" in _read_all(status_r)
            os.close(status_r)
        stderr_text = err.decode("utf-8", "replace")
        if not setup_ok and reason is None:
            return RunResult(
                "sandbox_error",
                proc.returncode,
                "",
                stderr_text,
                wall,
                cpu,
                message=f"bubblewrap failed to set up the sandbox: {stderr_text.strip()[-300:]}",
            )
        return classify(proc.returncode, out, stderr_text, wall, cpu, reason, limits, level)


def _communicate(proc: subprocess.Popen, deadline: float, cap: int) -> tuple[bytes, bytes, str | None]:
    """Read both pipes, stop at the deadline or the output cap; returns (out, err tail, reason)."""
    sel = selectors.DefaultSelector()
    out = bytearray()
    err = bytearray()
    err_total = 0
    reason: str | None = None
    pidfd = os.pidfd_open(proc.pid)
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    open_streams = 2
    exited_at: float | None = None
    try:
        while open_streams:
            now = time.monotonic()
            if now >= deadline:
                reason = "timeout"
                break
            wait = deadline - now
            if exited_at is not None:
                # The program is gone but a pipe is still held (a leftover child at a level without
                # a PID namespace and without a dedicated uid): stop reading soon after.
                if now - exited_at > 1.0:
                    break
                wait = min(wait, 0.1)
            for key, _ in sel.select(wait):
                what = key.data
                if what == "exit":
                    sel.unregister(pidfd)
                    exited_at = time.monotonic()
                else:
                    chunk = os.read(key.fileobj.fileno(), _READ)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    if what == "out":
                        out += chunk
                        if len(out) > cap:
                            reason = "output_limit"
                    else:
                        err += chunk
                        err_total += len(chunk)
                        if len(err) > 2 * STDERR_KEEP:
                            del err[:-STDERR_KEEP]
                        if err_total > cap:
                            reason = "output_limit"
            if reason:
                break
    finally:
        sel.close()
        os.close(pidfd)
        for f in (proc.stdout, proc.stderr):
            try:
                f.close()
            except OSError:
                pass
    return bytes(out[:cap]), bytes(err[-STDERR_KEEP:]), reason


def _kill_tree(proc: subprocess.Popen, uid: int | None) -> None:
    """Kill the session (all levels), then every process of the slot uid (daemons that left it)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if uid is not None:
        isolation.kill_uid(uid)


def _read_all(fd: int) -> bytes:
    os.set_blocking(fd, False)
    chunks = []
    while True:
        try:
            b = os.read(fd, _READ)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


POOL_MAX_EXECUTIONS = 1000


def executor_from_config(cfg) -> LocalExecutor:
    """Limits from `cfg.sandbox`; pooling from `cfg.execution` (how, not what: not fingerprinted)."""
    sb = cfg.sandbox
    ex = getattr(cfg, "execution", None) or {}
    return LocalExecutor(
        timeout_s=sb["run_timeout_s"],
        memory_mb=sb["memory_limit_mb"],
        output_bytes=int(float(sb.get("max_output_mb", 64)) * 1024 * 1024),
        pooled=ex.get("sandbox_pool"),
        pool_max_executions=int(ex.get("sandbox_pool_max_executions", POOL_MAX_EXECUTIONS)),
    )


__all__ = ["LocalExecutor", "executor_from_config"]
