"""Many inputs, one program: a stdio problem's tests run in one pooled sandbox, a fork per input.

`LocalExecutor.session(code)` returns one of these (the stdio judge opens one per problem). At the
bwrap level a `PooledSession` borrows a pre-started sandbox from the executor's pool for the whole
problem (pool.py; zygote.py says what each execution gets fresh), so each input costs a fork
instead of a sandbox set-up and an interpreter start. If the sandbox fails (a program that kills
its zygote, garbage, no answer), that input is re-run in a fresh sandbox and the next input gets
another pooled one, so the verdict is what a fresh process gives.
"""

from __future__ import annotations

import logging

from .isolation import Limits
from .pool import ZygoteLost
from .types import RunResult

log = logging.getLogger(__name__)


class DirectSession:
    """One fresh execution per input (SandboxFusion, weaker isolation levels, pool off)."""

    def __init__(self, executor, code: str) -> None:
        self.executor, self.code = executor, code

    def run(self, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        return self.executor.run(self.code, stdin=stdin, timeout_s=timeout_s, memory_mb=memory_mb)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PooledSession(DirectSession):
    def __init__(self, executor, code: str, pool) -> None:
        super().__init__(executor, code)
        self.pool = pool
        self._zygote = None

    def run(self, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None) -> RunResult:
        limits = self.executor.limits_for(timeout_s, memory_mb)
        if limits.memory_mb > self.executor.defaults.memory_mb:  # above the sandbox's hard limit
            return self.executor.run_fresh(self.code, stdin, limits)
        if self._zygote is not None and self._zygote.executions >= self.pool.max_executions:
            self._give_back()  # recycled by the pool
        if self._zygote is None:
            self._zygote = self.pool.acquire()
            if self._zygote is None:
                return self.executor.run_fresh(self.code, stdin, limits)
        try:
            r = self._zygote.run(self.code, stdin.encode("utf-8"), limits)
        except ZygoteLost as e:
            self.pool.note_failure(f"zygote lost in a session ({e})")
            self._give_back()
            return self.executor.run_fresh(self.code, stdin, limits)
        self.pool.note_success()
        return self.executor.unless_closed(r)

    def _give_back(self) -> None:
        if self._zygote is not None:
            self.pool.release(self._zygote)
            self._zygote = None

    def close(self) -> None:
        self._give_back()


__all__ = ["DirectSession", "PooledSession", "Limits"]
