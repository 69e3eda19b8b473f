# expect: ok|timeout
# (timeout: in a fresh bwrap run its parent is bwrap's init, same uid, which it can ptrace-stop: it only
# delays itself; in a pooled sandbox the parent is the root zygote and every attack on it fails)
# tries to leave something for the next execution in the same (pooled) sandbox, and to reach the
# zygote that forked it; tests/sandbox/test_sandbox_hostile.py then runs a probe in the same sandbox
import ctypes, os, signal, time

libc = ctypes.CDLL(None, use_errno=True)
zygote = os.getppid()
print("ns", os.readlink("/proc/self/ns/pid"))


def attempt(what, fn):
    try:
        r = fn()
        print("ESCAPED" if what.startswith("zygote") else "did", what, r)
    except Exception as e:
        print("blocked", what, type(e).__name__)


# files in every directory it can write to (depth <= 3, /proc and /sys aside)
for top, dirs, _ in os.walk("/"):
    if top.startswith(("/proc", "/sys")) or top.count("/") > 3:
        dirs[:] = []
        continue
    try:
        with open(os.path.join(top, ".trace___MARKER__"), "w") as f:
            f.write("left over")
        print("wrote", top)
    except OSError:
        pass
os.makedirs("/tmp/deep/er", exist_ok=True)
open("/tmp/deep/er/trace___MARKER__", "w").write("x")
os.chmod("/tmp/deep", 0)
attempt("chmod /tmp 0777", lambda: os.chmod("/tmp", 0o777))
# process state that must not carry over
os.environ["LEFTOVER___MARKER__"] = "1"
os.umask(0)
os.chdir("/")
# SysV IPC, POSIX message queue, kernel keyring
def made(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), "failed")
    return r


attempt("shmget", lambda: made(libc.shmget(0xC0DE, 4096, 0o1666)))
attempt("msgget", lambda: made(libc.msgget(0xC0DE, 0o1666)))
attempt("semget", lambda: made(libc.semget(0xC0DE, 1, 0o1666)))
attempt("mq_open", lambda: made(libc.mq_open(b"/trace___MARKER__", os.O_CREAT | os.O_RDWR, 0o666, None)))
attempt("add_key", lambda: made(libc.syscall(248, b"user", b"trace___MARKER__", b"x", 1, ctypes.c_int(-4))))
# the zygote: ptrace, its memory and descriptors, signals. (A parent pid of 0: the program is the
# init of its own PID namespace (the unshare level) and has no parent to reach; kill(0) would only
# signal its own process group, which kill_parent.py covers.)
if zygote > 0:
    attempt("zygote ptrace", lambda: made(libc.ptrace(16, zygote, None, None)))
    attempt("zygote mem", lambda: open(f"/proc/{zygote}/mem", "rb").close())
    attempt("zygote fds", lambda: os.listdir(f"/proc/{zygote}/fd"))
    attempt("zygote fd 3", lambda: open(f"/proc/{zygote}/fd/3", "wb").close())
    for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGUSR1):
        attempt(f"zygote signal {sig.name}", lambda: os.kill(zygote, sig))
# a detached sleeper that keeps writing
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):   # not holding the output open: a fresh run then ends when the program does
            os.dup2(devnull, fd)
        while True:
            try:
                open("/tmp/sleeper___MARKER__", "a").write("x")
            except OSError:
                pass
            time.sleep(0.02)
    os._exit(0)
time.sleep(0.1)
print("done")
