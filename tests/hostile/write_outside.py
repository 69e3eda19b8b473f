# expect: ok
import os, shutil
victim = "__VICTIM_DIR__"
def attempt(what, fn):
    try:
        fn()
        print("SUCCEEDED", what)
    except Exception as e:
        print("failed", what, type(e).__name__)
attempt("delete victim file", lambda: os.remove(os.path.join(victim, "victim.txt")))
attempt("write next to victim", lambda: open(os.path.join(victim, "pwned.txt"), "w").write("x"))
attempt("rmtree victim dir", lambda: shutil.rmtree(victim))
attempt("write /etc", lambda: open("/etc/pwned_by_sandbox", "w").write("x"))
attempt("write /var/tmp", lambda: open("/var/tmp/pwned_by_sandbox___MARKER__", "w").write("x"))
attempt("write /dev/shm", lambda: open("/dev/shm/pwned_by_sandbox___MARKER__", "w").write("x"))
attempt("chmod /tmp", lambda: os.chmod("/tmp", 0o777))
