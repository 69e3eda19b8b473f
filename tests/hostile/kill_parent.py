# expect: runtime_error|ok
import os, signal
for target in (os.getppid(), 1, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except Exception as e:
        print("kill", target, type(e).__name__)
