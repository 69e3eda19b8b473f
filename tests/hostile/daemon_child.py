# expect: ok
import os, sys, time
# classic double fork + setsid: the grandchild leaves the session and the process group
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", "__MARKER__"])
    os._exit(0)
time.sleep(0.2)
print("parent done")
