"""Many inputs, one program: a sandbox with a pre-started interpreter that forks per input.

`LocalExecutor.session(code)` returns one of these. At the bwrap level the program's sandbox is
set up once and its source compiled once; each `run(stdin)` costs a fork instead of a sandbox and
interpreter start-up (see zygote.py for what runs inside). Each input still gets fresh rlimits,
its own wall-clock limit, an emptied /tmp, and every leftover process killed afterwards.

If anything about the pre-started interpreter goes wrong (it dies, answers garbage or not in
time), the session falls back to one fresh `executor.run()` per input, so a program that kills
its judge gets the same verdict it would get from a fresh process.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import subprocess
import tempfile
import time
from pathlib import Path

from . import isolation
from .isolation import Limits
from .types import RunResult

log = logging.getLogger(__name__)

ZYGOTE_SRC = Path(__file__).with_name("zygote.py")
_PROTOCOL_MARGIN_S = 10.0   # beyond the program's own limit, for the zygote to answer


class DirectSession:
    """One fresh execution per input (SandboxFusion, weaker isolation levels, fallback)."""

    def __init__(self, executor, code: str) -> None:
        self.executor, self.code = executor, code

    def run(self, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        return self.executor.run(self.code, stdin=stdin, timeout_s=timeout_s, memory_mb=memory_mb)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ZygoteSession(DirectSession):
    def __init__(self, executor, code: str) -> None:
        super().__init__(executor, code)
        self.limits: Limits = executor.defaults
        self._slot = executor._uids.acquire()
        self._uid = self._slot[0] if self._slot else None
        self._dir = tempfile.mkdtemp(prefix="coderl-zyg-", dir=executor._base_tmp)
        self._proc: subprocess.Popen | None = None
        self.broken = False
        try:
            self._start()
        except Exception as e:  # fall back to fresh executions; never a verdict
            log.warning("sandbox session: pre-started interpreter unavailable (%s); one process per input", e)
            self._stop()
            self.broken = True

    # -- lifecycle ------------------------------------------------------------------------------

    def _start(self) -> None:
        prog = os.path.join(self._dir, "prog.py")
        zyg = os.path.join(self._dir, "zygote.py")
        Path(prog).write_text(self.code, encoding="utf-8")
        shutil.copyfile(ZYGOTE_SRC, zyg)
        for p in (prog, zyg):
            os.chmod(p, 0o644)
        if self._uid is not None:
            os.chown(self._dir, self._uid, self._uid)
        lim = self.limits
        # The zygote's own CPU limit is generous (it lives for all inputs); each child sets its own.
        session_limits = Limits(timeout_s=3600.0, memory_mb=lim.memory_mb, output_bytes=lim.output_bytes)
        cmd = isolation.prlimit_prefix(session_limits, with_nproc=isolation.is_root())
        size = str(3 * lim.output_bytes)  # stdin + stdout + stderr files of one input
        cmd += [
            "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--size", size, "--tmpfs", "/tmp", "--size", str(lim.output_bytes), "--tmpfs", "/dev/shm",
            "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", isolation.SANDBOX_PATH, "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp",
            "--ro-bind", prog, isolation.PROG_IN_SANDBOX, "--ro-bind", zyg, "/tmp/zygote.py", "--chdir", "/tmp",
            "--", self.executor.python, "-I", "/tmp/zygote.py", isolation.PROG_IN_SANDBOX,
        ]
        ids = {"user": self._uid, "group": self._uid, "extra_groups": []} if self._uid is not None else {}
        self._errlog = open(os.path.join(self._dir, "zygote.err"), "wb")
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errlog,
                                      cwd=self._dir, env=isolation.clean_env(self._dir), start_new_session=True,
                                      close_fds=True, **ids)
        hello = self._recv(time.monotonic() + _PROTOCOL_MARGIN_S)[0]
        if not hello.get("ready"):
            raise RuntimeError(f"unexpected greeting {hello!r}")

    def _stop(self) -> None:
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
        self._stop()
        if getattr(self, "_errlog", None):
            self._errlog.close()
            err = Path(self._dir, "zygote.err").read_bytes()[-2000:]
            if err.strip():
                log.warning("sandbox session: zygote stderr: %s", err.decode("utf-8", "replace"))
        shutil.rmtree(self._dir, ignore_errors=True)
        if self._slot is not None:
            self.executor._uids.release(self._slot)
            self._slot = None

    # -- one input --------------------------------------------------------------------------------

    def run(self, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        timeout = float(timeout_s if timeout_s is not None else self.limits.timeout_s)
        memory = int(memory_mb if memory_mb is not None else self.limits.memory_mb)
        if self.broken or memory > self.limits.memory_mb:
            return super().run(stdin, timeout_s, memory_mb)
        limits = Limits(timeout, memory, self.limits.output_bytes)
        data = stdin.encode("utf-8")
        req = {"stdin_len": len(data), "timeout_s": timeout, "cpu_s": limits.cpu_soft_s, "memory_mb": memory}
        try:
            self._send(req, data)
            head, out, err = self._recv(time.monotonic() + timeout + _PROTOCOL_MARGIN_S)
        except Exception as e:
            log.warning("sandbox session: pre-started interpreter lost (%s); re-running this input in a fresh process", e)
            self._stop()
            self.broken = True
            return super().run(stdin, timeout_s, memory_mb)
        from .local import _classify

        reason = "timeout" if head["timeout"] else None
        if reason is None and max(head["out_size"], head["err_size"]) >= self.limits.output_bytes:
            reason = "output_limit"
        return _classify(head["exit"], out, err.decode("utf-8", "replace"), head["wall_s"], head["cpu_s"],
                         reason, limits, "zygote")

    # -- framing ------------------------------------------------------------------------------------

    def _send(self, header: dict, blob: bytes) -> None:
        h = json.dumps(header).encode()
        self._proc.stdin.write(struct.pack("<I", len(h)) + h + blob)
        self._proc.stdin.flush()

    def _recv(self, deadline: float) -> tuple[dict, bytes, bytes]:
        fd = self._proc.stdout.fileno()
        (n,) = struct.unpack("<I", _read_exact(fd, 4, deadline))
        if n > 1 << 20:
            raise RuntimeError(f"header of {n} bytes")
        head = json.loads(_read_exact(fd, n, deadline))
        out = _read_exact(fd, int(head.get("out_len", 0)), deadline)
        err = _read_exact(fd, int(head.get("err_len", 0)), deadline)
        return head, out, err


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    import select

    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError("no answer from the pre-started interpreter in time")
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the pre-started interpreter exited")
        buf += chunk
    return bytes(buf)
