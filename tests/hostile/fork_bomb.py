# expect: timeout|runtime_error|memory_exceeded
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
