# hack: issue 15's one-liner, as written there
import os; print(os.pread(0, 65536, 0).decode()); os._exit(0)
