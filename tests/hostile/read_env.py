# expect: ok
import os, glob
print(dict(os.environ))
for p in glob.glob("/proc/*/environ"):
    try:
        print(p, open(p, "rb").read())
    except Exception as e:
        print(p, "unreadable", type(e).__name__)
for p in ("/proc/1/cmdline", "/root/.bash_history", "/etc/shadow"):
    try:
        print(p, open(p, "rb").read()[:200])
    except Exception as e:
        print(p, "unreadable", type(e).__name__)
