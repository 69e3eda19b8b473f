# expect: timeout
import signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a polite SIGTERM must not be what stops us
while True:
    pass
