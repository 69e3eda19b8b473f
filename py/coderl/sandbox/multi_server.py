"""Executions spread over several SandboxFusion servers (SANDBOX=url1,url2,...).

Each execution goes to the live server with the fewest executions in flight, never more than
`per_server` at once on one server (a SandboxFusion box judges with its own cores: more would make
the 30 s limit fail honest programs). A server that cannot be reached is set aside for `down_for_s`
and the execution is sent to another; once every server has failed it, the execution is a
`sandbox_error`, which the infrastructure guard counts: when all servers are down the run stops
instead of scoring. A set-aside server is tried again after `down_for_s` (a restarted one rejoins).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from ..errors import SandboxUnavailable
from .sandboxfusion import SandboxFusionExecutor, ServerUnreachable
from .types import RunResult

log = logging.getLogger(__name__)

DEFAULT_PER_SERVER = 8
DEFAULT_DOWN_FOR_S = 30.0


@dataclass
class _Server:
    executor: SandboxFusionExecutor
    in_flight: int = 0
    down_until: float = 0.0
    last_error: str = ""
    executions: int = 0

    @property
    def url(self) -> str:
        return self.executor.url


class MultiSandboxExecutor:
    isolation_level = "sandboxfusion"

    def __init__(
        self,
        urls: list[str],
        *,
        per_server: int = DEFAULT_PER_SERVER,
        down_for_s: float = DEFAULT_DOWN_FOR_S,
        timeout_s: float,
        memory_mb: int,
        output_bytes: int,
        retries: int = 1,
        backoff_s: float = 0.5,
    ) -> None:
        bad = [u for u in urls if not u.startswith(("http://", "https://"))]
        if not urls or bad:
            raise SandboxUnavailable(
                f"SANDBOX: expected SandboxFusion URLs separated by commas, got {bad[0] if bad else '(none)'!r}; "
                "e.g. SANDBOX=http://box1:8080,http://box2:8080"
            )
        if per_server < 1:
            raise SandboxUnavailable(f"execution.sandbox_server_concurrency must be 1 or more, got {per_server}")
        self.per_server = int(per_server)
        self.down_for_s = float(down_for_s)
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.servers = [
            _Server(
                SandboxFusionExecutor(
                    u,
                    timeout_s=timeout_s,
                    memory_mb=memory_mb,
                    output_bytes=output_bytes,
                    retries=retries,
                    backoff_s=backoff_s,
                )
            )
            for u in urls
        ]
        self._cond = threading.Condition()

    def _acquire(self, tried: set[int]) -> int | None:
        """Index of a live, untried server with a free slot (waits for one); None when none is left to try."""
        with self._cond:
            while True:
                now = time.monotonic()
                live = [i for i, s in enumerate(self.servers) if i not in tried and s.down_until <= now]
                if not live:
                    return None
                free = [i for i in live if self.servers[i].in_flight < self.per_server]
                if free:
                    i = min(free, key=lambda j: (self.servers[j].in_flight, self.servers[j].executions))
                    self.servers[i].in_flight += 1
                    self.servers[i].executions += 1
                    return i
                self._cond.wait(timeout=1.0)

    def _release(self, i: int, error: str = "") -> None:
        with self._cond:
            s = self.servers[i]
            s.in_flight -= 1
            if error:
                s.down_until, s.last_error = time.monotonic() + self.down_for_s, error
            self._cond.notify_all()

    def run(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult:
        t0 = time.monotonic()
        tried: set[int] = set()
        while (i := self._acquire(tried)) is not None:
            tried.add(i)
            try:
                result = self.servers[i].executor.request(code, stdin, timeout_s, memory_mb)
            except ServerUnreachable as e:
                self._release(i, str(e))
                log.warning(
                    "SandboxFusion %s unreachable, set aside for %.0f s; trying another server: %s",
                    self.servers[i].url,
                    self.down_for_s,
                    e,
                )
                continue
            self._release(i)
            return result
        failed = "; ".join(f"{s.url}: {s.last_error or 'set aside'}" for s in self.servers)
        return RunResult(
            "sandbox_error",
            wall_s=time.monotonic() - t0,
            message=f"every SandboxFusion server failed this execution ({failed})"[:1000],
        )

    @property
    def capacity(self) -> int:
        """Executions it can hold at once: the judge pool's default size for it."""
        return self.per_server * len(self.servers)

    def health(self) -> tuple[bool, str]:
        """Healthy when at least one server runs print(1+1); unhealthy ones are set aside and named."""
        bad = []
        for s in self.servers:
            ok, msg = s.executor.health()
            if not ok:
                bad.append(msg)
                with self._cond:
                    s.down_until, s.last_error = time.monotonic() + self.down_for_s, msg
        n = len(self.servers)
        if len(bad) == n:
            return False, f"none of the {n} SandboxFusion servers is healthy: " + "; ".join(bad)
        if bad:
            log.warning(
                "%d of %d SandboxFusion servers unhealthy, judging on the others: %s", len(bad), n, "; ".join(bad)
            )
        return (
            True,
            f"{n - len(bad)}/{n} SandboxFusion servers ok, at most {self.per_server} executions at once on each",
        )

    def describe(self) -> dict:
        return {
            "backend": "sandboxfusion",
            "urls": [s.url for s in self.servers],
            "per_server": self.per_server,
            "isolation_level": self.isolation_level,
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
        }

    def load(self) -> dict[str, int]:
        """Executions sent to each server so far (for logs and tests)."""
        with self._cond:
            return {s.url: s.executions for s in self.servers}


def multi_executor_from_config(spec: str, cfg, output_bytes: int) -> MultiSandboxExecutor:
    sb, ex = cfg.sandbox, cfg.execution
    return MultiSandboxExecutor(
        [u.strip() for u in spec.split(",") if u.strip()],
        per_server=int(ex.get("sandbox_server_concurrency") or DEFAULT_PER_SERVER),
        timeout_s=sb["run_timeout_s"],
        memory_mb=sb["memory_limit_mb"],
        output_bytes=output_bytes,
        retries=1,
    )  # one retry on the same server, then another server
