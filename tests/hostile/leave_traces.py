# expect: ok
# writes where the next execution would look (checked by a follow-up run in the test)
import os
for d in (".", "/tmp", "/dev/shm"):
    try:
        open(os.path.join(d, "trace___MARKER__"), "w").write("left over")
        print("wrote", d)
    except OSError as e:
        print("could not write", d, e.errno)
