# expect: runtime_error|output_limit|timeout
import os
for d in (".", "/tmp", "/dev/shm", "/var/tmp"):
    try:
        for i in range(100000):
            with open(os.path.join(d, f"fill{i}"), "wb") as f:
                f.write(b"0" * (512 * 1024))
    except OSError as e:
        print(d, "stopped:", e.errno)
raise SystemExit(1)
