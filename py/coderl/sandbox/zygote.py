"""A pre-started interpreter inside a bwrap sandbox that runs one execution per request, one fork each.

Runs INSIDE the sandbox (standalone: stdlib only, no coderl imports), started as
``python -I -c <this source> [--drop-to UID]``, and speaks a framed protocol on fds 0/1 with the
harness (coderl.sandbox.zygote_proc). Each request carries the program's source, its stdin and its
limits, so one sandbox serves many executions: a problem's tests (sessions) or many problems
(the executor's pool). Per request it:

1. wipes every place the program can write (/tmp, /dev/shm, /dev/mqueue) and every SysV IPC
   object, and checks that no other process is alive in the sandbox;
2. writes the program to /tmp/prog.py, compiles it (once per program: a session's inputs share the
   code object; a compile with anything to say is left to the child), and forks a child that:
   starts its own session, gets stdin, stdout and stderr as fresh memfds (never files in /tmp, so
   the program sees the /tmp of a fresh run), closes every other descriptor, drops to the
   unprivileged uid (root mode), sets its own rlimits, umask and cwd, clears the signal mask (the
   dispositions it inherits are a fresh ``python``'s: the zygote never changes one), blocks the
   kernel keyring syscalls (the one per-uid kernel store that survives a process; the filter is
   built once, before any fork), and becomes the program's ``__main__``;
3. waits with the wall-clock limit, then SIGKILLs every other process of the sandbox (leftover
   children, daemons) until none is left, and answers with exit status, times, stdout, the stderr
   tail and whether the clean-up succeeded (``clean``: the harness retires the sandbox if not).

The zygote never runs program code itself (it compiles it, which runs none of it): its state stays
as it was after start-up, but for the last program's code object.
In root mode (``--drop-to UID``) the zygote is root with a few capabilities and the program runs as
UID, so the program can neither signal, ptrace nor read the zygote. Otherwise (bwrap started by an
unprivileged user) they share a uid: the zygote is non-dumpable (no ptrace, no /proc/<pid>/fd or
mem), but the program can kill or stop it; the harness then sees the protocol fail and re-runs the
execution in a fresh sandbox.

Cost per execution (docs/performance.md, RL reward): a fork, then the child's copy-on-write faults on
every zygote page it touches and the Python set-up above. So the child does as little as it can:
what is identical for every execution (the seccomp filter, imports, the compiled program) is made
once in the zygote, and the zygote's objects are frozen out of the child's exit-time garbage
collection (gc.freeze before each fork).
"""

import atexit
import gc
import io
import json
import os
import platform
import resource
import select
import signal
import struct
import sys
import time
import types
import warnings

STDERR_KEEP = 16 * 1024
PROG = "/tmp/prog.py"
WRITABLE = ("/tmp", "/dev/shm", "/dev/mqueue")
DROP_TO = int(sys.argv[sys.argv.index("--drop-to") + 1]) if "--drop-to" in sys.argv else None


def _libc():
    import ctypes

    return ctypes, ctypes.CDLL(None, use_errno=True)


def _nondumpable():  # also loads ctypes once, for the children's seccomp filter
    try:
        _libc()[1].prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4, value 0
    except Exception:
        pass


# -- seccomp: add_key, request_key, keyctl -> ENOSYS (as on a kernel without keys) ------------------

_KEY_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}


def _keyring_filter():
    """Build, once in the zygote, what each child installs: the prctl function and the filter.

    Built before any fork, so a child only makes two prctl calls: a ctypes type created in the
    child would touch (and copy) hundreds of the zygote's pages per execution.
    """
    arch = _KEY_SYSCALLS.get(platform.machine())
    if arch is None:
        return None
    ctypes, libc = _libc()
    audit_arch, (a, b, c) = arch
    allow, enosys = 0x7FFF0000, 0x00050000 | 38
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    prog = [
        (ld, 0, 0, 4),
        (jeq, 1, 0, audit_arch),
        (ret, 0, 0, allow),  # other arch: allow
        (ld, 0, 0, 0),
        (jge, 4, 0, 0x40000000),  # x32 ABI: deny
        (jeq, 3, 0, a),
        (jeq, 2, 0, b),
        (jeq, 1, 0, c),
        (ret, 0, 0, allow),
        (ret, 0, 0, enosys),
    ]
    raw = b"".join(struct.pack("<HBBI", *ins) for ins in prog)
    buf = ctypes.create_string_buffer(raw, len(raw))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog), ctypes.addressof(buf))
    return libc.prctl, ctypes.byref(fprog), ctypes.get_errno, (buf, fprog)  # the last keeps them alive


KEYRING_FILTER = None  # set at start-up (see __main__)


def _block_keyrings():
    if KEYRING_FILTER is None:
        return
    prctl, fprog, get_errno, _ = KEYRING_FILTER
    if prctl(38, 1, 0, 0, 0) != 0 or prctl(22, 2, fprog, 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP_MODE_FILTER
        raise OSError(get_errno(), "seccomp filter for keyring syscalls")


# -- protocol -------------------------------------------------------------------------------------


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
    view = memoryview(struct.pack("<I", len(data)) + data + b"".join(blobs))
    while view:
        view = view[os.write(PROTO_OUT, view) :]


# -- cleaning between executions ------------------------------------------------------------------


def _wipe_dirs():
    import shutil

    left = []
    for d in WRITABLE:
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    shutil.rmtree(e.path)
                else:
                    os.unlink(e.path)
            except OSError:
                left.append(e.path)
    return left


def _sysv_ipc_ids():
    ids = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                ids += [(kind, int(line.split()[1])) for line in f.read().splitlines()[1:] if line.strip()]
        except OSError:
            continue
    return ids


def _wipe_sysv_ipc():
    """Remove every SysV shared-memory segment, message queue and semaphore set of the IPC namespace.

    IPC_RMID needs the owner (or CAP_SYS_ADMIN, which the zygote does not keep): in root mode a
    short-lived child with the program's uid removes them.
    """
    ids = _sysv_ipc_ids()
    if not ids:
        return []
    pid = os.fork() if DROP_TO is not None else 0
    if pid == 0:
        try:
            if DROP_TO is not None:
                os.setresgid(DROP_TO, DROP_TO, DROP_TO)
                os.setresuid(DROP_TO, DROP_TO, DROP_TO)
            libc = _libc()[1]
            for kind, i in ids:  # IPC_RMID = 0
                (libc.semctl(i, 0, 0, 0) if kind == "sem" else getattr(libc, kind + "ctl")(i, 0, None))
        finally:
            if DROP_TO is not None:
                os._exit(0)
    else:
        os.waitpid(pid, 0)
    return [f"{kind}:{i}" for kind, i in _sysv_ipc_ids()]


def _others():
    """Pids alive in this PID namespace other than its init (1) and this zygote (zombies excluded)."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def _kill_others():
    """SIGKILL everything but init and the zygote until nothing is left; True when clean."""
    for _ in range(200):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if not _others():
            return True
        time.sleep(0.005)
    return False


def _prepare_writable():
    """/tmp and /dev/shm belong to the program with mode 0755 (as in a fresh bwrap run)."""
    for d in ("/tmp", "/dev/shm"):
        if DROP_TO is not None:
            os.chown(d, DROP_TO, DROP_TO)
        os.chmod(d, 0o755)
    if DROP_TO is not None and os.path.isdir("/dev/mqueue"):
        os.chmod("/dev/mqueue", 0o1777)


# -- one execution ----------------------------------------------------------------------------------


def _exit_code(e):
    code = e.code  # CPython's handling of SystemExit at the top level
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


def _child(src, code, req, fds, ready_w):
    os.setsid()
    for src_fd, dst in zip(fds, (0, 1, 2)):
        os.dup2(src_fd, dst)
    os.closerange(3, ready_w)
    os.closerange(ready_w + 1, 1 << 16)
    # Signal dispositions: inherited as they are in the zygote, i.e. a fresh interpreter's (it never
    # changes one); only the mask is reset.
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    fsize = int(req["output_bytes"]) + 1  # Limits.file_size_limit: cap + 1 tells "passed" from "met"
    limits = (
        (resource.RLIMIT_CPU, int(req["cpu_s"]), int(req["cpu_s"]) + 1),
        (resource.RLIMIT_AS, int(req["memory_mb"]) << 20, int(req["memory_mb"]) << 20),
        (resource.RLIMIT_FSIZE, fsize, fsize),
        (resource.RLIMIT_CORE, 0, 0),
    )
    if req.get("nproc"):
        limits += ((resource.RLIMIT_NPROC, int(req["nproc"]), int(req["nproc"])),)
    for what, soft, hard in limits:
        resource.setrlimit(what, (soft, hard))
    if DROP_TO is not None:
        os.setgroups([])
        os.setresgid(DROP_TO, DROP_TO, DROP_TO)
        os.setresuid(DROP_TO, DROP_TO, DROP_TO)  # from root to non-root: every capability is gone
    os.umask(0o022)
    os.chdir("/tmp")
    _block_keyrings()
    os.write(ready_w, b"k")  # set-up done: from here on every outcome is the program's
    os.close(ready_w)
    sys.stdin = _std_stream(io, 0, "r", "<stdin>", "surrogateescape", False)
    sys.stdout = _std_stream(io, 1, "w", "<stdout>", "surrogateescape", False)
    sys.stderr = _std_stream(io, 2, "w", "<stderr>", "backslashreplace", True)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = [PROG]
    main = types.ModuleType("__main__")
    main.__file__ = PROG
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    # From here on this process ends like `python prog.py` (see _finish): SystemExit codes and
    # messages, tracebacks through sys.excepthook, then the interpreter's exit sequence.
    status = _run_main(src, code, main)
    del main, src, code
    _finish(status)


def _run_main(src, code, main):
    """Run the program as __main__ (compiled here unless the zygote did); returns its exit code
    (outside any except block)."""
    if code is None:
        try:
            code = compile(src, PROG, "exec", dont_inherit=True)
        except BaseException as e:  # as `python prog.py` reports a syntax error: no zygote frames
            import traceback

            traceback.print_exception(type(e), e, None)
            return 1
    del src
    try:
        exec(code, main.__dict__)
    except SystemExit as e:
        return _exit_code(e)
    except BaseException:
        etype, value, tb = sys.exc_info()
        if tb is not None and tb.tb_next is not None:
            tb = tb.tb_next  # drop this function's frame, as if the program were the main script
            value = value.with_traceback(tb)
        sys.excepthook(etype, value, tb)
        return 1
    return 0


def _flush_std():
    """CPython's flush_std_files: flush open sys.stdout/stderr; a failed flush exits 120."""
    status = 0
    for name in ("stdout", "stderr"):
        f = getattr(sys, name, None)
        try:
            if f is None or f.closed:
                continue
        except Exception:
            continue
        try:
            f.flush()
        except Exception as e:
            status = 120
            _unraisable(f, e)
    return status


def _unraisable(obj, e):
    """What PyErr_WriteUnraisable prints through the default sys.unraisablehook."""
    import traceback

    try:
        text = "".join(traceback.format_exception(type(e), e, None))  # raised in C: no frames
        os.write(2, f"Exception ignored in: {obj!r}\n{text}".encode("utf-8", "backslashreplace"))
    except Exception:
        pass


def _finish(code):
    """The observable part of the interpreter's exit (Py_FinalizeEx), then _exit.

    A full finalization of a forked child decrefs every object of the zygote's heap and copies
    each of its pages (copy-on-write): ~20 ms, more than the program. What a program can observe
    is kept, in CPython's order: non-daemon threads joined, atexit handlers, std streams flushed
    (120 when stdout fails), the program's objects finalized (its __main__ leaves sys.modules, then
    a garbage collection; the zygote's own objects are frozen out of it), std streams flushed again.
    Not kept: finalization of objects reachable only from other modules (the interpreter clears
    every module's dict at exit; here only the program's __main__ goes).
    """
    if "threading" in sys.modules:
        try:
            sys.modules["threading"]._shutdown()
        except BaseException as e:
            _unraisable(sys.modules["threading"]._shutdown, e)
    atexit._run_exitfuncs()
    status = _flush_std()
    # As finalize_modules does: drop __main__ from sys.modules, then collect, so the program's
    # objects are finalized (PEP 442: all finalizers run before anything is cleared).
    sys.modules.pop("__main__", None)
    gc.collect()
    # finalize_modules restores sys.stdout/stderr to the originals before the last flush
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    status = _flush_std() or status
    os._exit(120 if status else code)


def _memfd(name, data=b""):
    fd = os.memfd_create(name, 0)  # no MFD_CLOEXEC: the child gets it as 0/1/2
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    if DROP_TO is not None:
        os.fchown(fd, DROP_TO, DROP_TO)
    return fd


def _read_fd(fd, tail):
    size = os.fstat(fd).st_size
    start = max(0, size - tail) if tail is not None else 0
    chunks, pos = [], start
    while pos < size:
        b = os.pread(fd, min(1 << 20, size - pos), pos)
        if not b:
            break
        chunks.append(b)
        pos += len(b)
    return b"".join(chunks), size


COMPILE_HERE_MAX_BYTES = 64 * 1024  # compiles in <= ~0.1 s CPU (2-core VM); contest answers: a few KB
_COMPILED = [None, None]  # (source, code) of the last program: a session sends it once per input


def _compiled(src):
    """The program compiled once in the zygote for all its executions, or None: the child compiles it.

    Compiling in each child ran the parser and compiler on pages first touched (copied) by that
    child, ~1 ms per execution. Only a silent compile is shared: when compiling says anything (an
    error, a warning) the child compiles the program itself, so it reports it as `python prog.py`
    does. Compiling runs no program code. A large source is left to the child too: its compile
    time then counts against the execution's time limit, as in a fresh run.
    """
    if _COMPILED[0] != src:
        _COMPILED[:] = [src, None]
        if len(src) > COMPILE_HERE_MAX_BYTES:
            return None
        try:
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                code = compile(src, PROG, "exec", dont_inherit=True)
            _COMPILED[1] = None if said else code
        except Exception:  # SyntaxError, ValueError, RecursionError, MemoryError: left to the child
            pass
    return _COMPILED[1]


def _serve():
    while True:
        try:
            (hlen,) = struct.unpack("<I", _read_exact(PROTO_IN, 4))
            req = json.loads(_read_exact(PROTO_IN, hlen))
            src = _read_exact(PROTO_IN, req["prog_len"])
            stdin = _read_exact(PROTO_IN, req["stdin_len"])
        except EOFError:
            return
        _prepare_writable()  # ownership and modes as at start-up, whatever the last program did
        dirty = _wipe_dirs() + _wipe_sysv_ipc() + [f"pid {p}" for p in _others()]
        if dirty:  # a sandbox that cannot be made clean is never used again
            _send({"clean": False, "why": "left over before the run: " + ", ".join(dirty[:5])})
            return
        with open(PROG, "wb") as f:
            f.write(src)
        os.chmod(PROG, 0o644)
        code = _compiled(src)
        fds = (_memfd("stdin", stdin), _memfd("stdout"), _memfd("stderr"))
        ready_r, ready_w = os.pipe()
        t0 = time.monotonic()
        gc.freeze()  # what the zygote holds now: out of the child's collections (as at start-up)
        pid = os.fork()
        if pid == 0:
            try:
                _child(src, code, req, fds, ready_w)  # ends with os._exit
            finally:
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
        os.close(ready_w)
        clean = _kill_others()
        set_up = os.read(ready_r, 1) == b"k"  # every writer is gone: no blocking
        os.close(ready_r)
        if not set_up:  # the child failed before the program ran: not the program's result
            _send({"clean": False, "why": f"the child's set-up failed (status {status})"})
            return
        out, out_size = _read_fd(fds[1], None)
        err, err_size = _read_fd(fds[2], STDERR_KEEP)
        for fd in fds:
            os.close(fd)
        _send(
            {
                "exit": os.waitstatus_to_exitcode(status),
                "timeout": timed_out,
                "wall_s": wall,
                "cpu_s": ru.ru_utime + ru.ru_stime,
                "out_len": len(out),
                "err_len": len(err),
                "out_size": out_size,
                "err_size": err_size,
                "clean": clean,
                "why": "" if clean else "processes survived SIGKILL",
            },
            out,
            err,
        )
        if not clean:
            return


if __name__ == "__main__":
    _nondumpable()
    KEYRING_FILTER = _keyring_filter()
    PROTO_IN = os.dup(0)
    PROTO_OUT = os.dup(1)
    for fd in (PROTO_IN, PROTO_OUT):
        os.set_inheritable(fd, False)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    _prepare_writable()
    gc.freeze()  # the zygote's objects: never scanned by the children's collections (no COW copies)
    _send({"ready": True, "pid": os.getpid(), "root_mode": DROP_TO is not None})
    _serve()
