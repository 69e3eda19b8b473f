"""A pre-started interpreter that runs one program against many inputs, one fork per input.

Runs INSIDE the sandbox (standalone: stdlib only, no coderl imports) as
``python -I /tmp/zygote.py /tmp/prog.py`` and speaks a framed protocol on fds 0/1 with the
harness (coderl.sandbox.session). Per request it wipes /tmp, forks a child that becomes the
program's ``__main__`` with the request's stdin, fresh rlimits and its own session, waits with
the wall-clock limit, then kills every other process of the sandbox (``kill(-1)``: daemons and
leftover children) and sends back exit status, times, stdout and the stderr tail.

The zygote marks itself non-dumpable so the program (same uid) cannot ptrace it or read its
/proc entries, and the child closes every inherited fd, so the program never sees the protocol.
"""

import json
import os
import resource
import select
import signal
import struct
import sys
import time

PROG = sys.argv[1]
KEEP = {os.path.basename(PROG), os.path.basename(__file__)}
STDERR_KEEP = 16 * 1024


def _nondumpable():
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except Exception:
        pass


def _read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _send(header, *blobs):
    data = json.dumps(header).encode()
    out = struct.pack("<I", len(data)) + data + b"".join(blobs)
    view = memoryview(out)
    while view:
        view = view[os.write(PROTO_OUT, view):]


def _wipe_tmp():
    import shutil

    for d in ("/tmp", "/dev/shm"):
        _wipe(d, shutil)


def _wipe(d, shutil):
    for e in os.scandir(d):
        if d == "/tmp" and e.name in KEEP:
            continue
        try:
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path, ignore_errors=True)
            else:
                os.unlink(e.path)
        except OSError:
            pass


def _exit_code(e):
    # CPython's handling of SystemExit at the top level
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1


def _std_stream(io, fd, mode, name, errors, line_buffering):
    """The standard streams exactly as CPython builds them at start-up (create_stdio, C.UTF-8 locale)."""
    raw = io.FileIO(fd, mode, closefd=False)
    raw.name = name
    buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    stream = io.TextIOWrapper(buf, encoding="utf-8", errors=errors, newline="\n", line_buffering=line_buffering)
    stream.mode = mode
    return stream


def _child(source_or_error, req, stdin_path, out_path, err_path):
    os.setsid()
    fd0 = os.open(stdin_path, os.O_RDONLY)
    fd1 = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    fd2 = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    for src, dst in ((fd0, 0), (fd1, 1), (fd2, 2)):
        os.dup2(src, dst)
    os.closerange(3, 1 << 16)
    os.unlink(stdin_path)
    cpu = int(req["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = int(req["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    import io
    import types

    sys.stdin = _std_stream(io, 0, "r", "<stdin>", "surrogateescape", False)
    sys.stdout = _std_stream(io, 1, "w", "<stdout>", "surrogateescape", False)
    sys.stderr = _std_stream(io, 2, "w", "<stderr>", "backslashreplace", True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = [PROG]
    main = types.ModuleType("__main__")
    main.__file__ = PROG
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    # From here on this process behaves like `python prog.py`: a SystemExit (from the program or
    # raised below) unwinds to the top and the interpreter finalizes as usual: non-daemon threads
    # joined, atexit handlers, sys.stdout/stderr flushed (120 on failure), objects finalized.
    if isinstance(source_or_error, BaseException):
        import traceback

        # as `python prog.py` reports a syntax error: the exception alone, no zygote frames
        traceback.print_exception(type(source_or_error), source_or_error, None)
        raise SystemExit(1)
    try:
        exec(source_or_error, main.__dict__)
    except SystemExit:
        raise
    except BaseException:
        etype, value, tb = sys.exc_info()
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next  # drop this function's frame, as if the program were the main script
            value = value.with_traceback(tb)
        sys.excepthook(etype, value, tb)
        raise SystemExit(1) from None
    raise SystemExit(0)


def _serve(compiled):
    n = 0
    while True:
        try:
            (hlen,) = struct.unpack("<I", _read_exact(PROTO_IN, 4))
            req = json.loads(_read_exact(PROTO_IN, hlen))
            stdin = _read_exact(PROTO_IN, req["stdin_len"])
        except EOFError:
            return
        n += 1
        _wipe_tmp()
        stdin_path, out_path, err_path = f"/tmp/.in{n}", f"/tmp/.out{n}", f"/tmp/.err{n}"
        with open(stdin_path, "wb") as f:
            f.write(stdin)
        t0 = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                _child(compiled, req, stdin_path, out_path, err_path)
            except SystemExit:
                raise  # the program's end: let the interpreter exit and finalize normally
            except BaseException:
                os._exit(255)
            os._exit(255)
        timed_out = False
        pidfd = os.pidfd_open(pid)
        try:
            if not select.select([pidfd], [], [], float(req["timeout_s"]))[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
        finally:
            os.close(pidfd)
        _, status, ru = os.wait4(pid, 0)
        wall = time.monotonic() - t0
        try:
            os.kill(-1, signal.SIGKILL)  # everything else in this sandbox: leftover children, daemons
        except ProcessLookupError:
            pass
        out = _slurp(out_path, None)
        err = _slurp(err_path, STDERR_KEEP)
        _send({"exit": os.waitstatus_to_exitcode(status), "timeout": timed_out, "wall_s": wall,
               "cpu_s": ru.ru_utime + ru.ru_stime, "out_len": len(out), "err_len": len(err),
               "out_size": _size(out_path), "err_size": _size(err_path)}, out, err)


def _size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _slurp(path, tail):
    try:
        with open(path, "rb", buffering=0) as f:
            if tail is not None:
                size = os.fstat(f.fileno()).st_size
                f.seek(max(0, size - tail))
            return f.read()
    except OSError:
        return b""


if __name__ == "__main__":
    _nondumpable()
    PROTO_IN = os.dup(0)
    PROTO_OUT = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    try:
        with open(PROG, "rb") as f:
            src = f.read()
        compiled = compile(src, PROG, "exec", dont_inherit=True)
    except BaseException as e:  # a syntax error is the program's result, reported per input
        compiled = e
    _send({"ready": True})
    _serve(compiled)
