"""SandboxFusion backend: the same executions sent to a SandboxFusion server's POST /run_code.

Raw HTTP (stdlib urllib) because the PyPI client drops memory_limit_MB. Request body:
``{"code", "language": "python", "run_timeout", "memory_limit_MB", "stdin"}``. Response:
``{"status": "Success"|"Failed"|"SandboxError", "message", "run_result": {"status":
"Finished"|"TimeLimitExceeded"|"Error", "return_code", "stdout", "stderr", "execution_time"}}``.

Transport failures are retried with exponential backoff; a server that stays unreachable gives
``sandbox_error`` (an infrastructure failure, never a score). SandboxFusion's own isolation is
whatever its server config says (``isolation: none`` by default): see docs/sandbox.md.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

from .outcome import is_memory_error
from .types import RunResult

log = logging.getLogger(__name__)

STDERR_KEEP = 16 * 1024


class SandboxFusionExecutor:
    isolation_level = "sandboxfusion"

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float,
        memory_mb: int,
        output_bytes: int,
        retries: int = 3,
        backoff_s: float = 0.5,
        http_margin_s: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.endpoint = self.url + "/run_code"
        self.timeout_s = float(timeout_s)
        self.memory_mb = int(memory_mb)
        self.output_bytes = int(output_bytes)
        self.retries = retries
        self.backoff_s = backoff_s
        self.http_margin_s = http_margin_s

    def run(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult:
        t0 = time.monotonic()
        try:
            return self.request(code, stdin, timeout_s, memory_mb)
        except ServerUnreachable as e:
            return RunResult("sandbox_error", wall_s=time.monotonic() - t0, message=str(e))

    def request(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult:
        """Like run(), but a server that cannot be reached raises ServerUnreachable (so that a caller
        holding several servers can send the execution to another one)."""
        timeout = float(timeout_s if timeout_s is not None else self.timeout_s)
        body = {
            "code": code,
            "language": "python",
            "run_timeout": timeout,
            "memory_limit_MB": int(memory_mb if memory_mb is not None else self.memory_mb),
            "stdin": stdin,
        }
        t0 = time.monotonic()
        resp = self._post(body, timeout + self.http_margin_s)
        return map_response(resp, time.monotonic() - t0, timeout, self.output_bytes)

    def health(self) -> tuple[bool, str]:
        r = self.run("print(1+1)", timeout_s=min(10.0, self.timeout_s))
        if r.status == "ok" and r.stdout.strip() == "2":
            return True, f"SandboxFusion at {self.url} ok"
        return False, f"SandboxFusion at {self.url} failed print(1+1): status={r.status} {r.message} {r.stderr[-300:]}"

    def describe(self) -> dict:
        return {
            "backend": "sandboxfusion",
            "url": self.url,
            "isolation_level": self.isolation_level,
            "timeout_s": self.timeout_s,
            "memory_mb": self.memory_mb,
        }

    def _post(self, body: dict, http_timeout: float) -> dict:
        data = json.dumps(body).encode("utf-8")
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            req = urllib.request.Request(
                self.endpoint, data=data, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(req, timeout=http_timeout) as r:
                    return json.loads(r.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code} {e.reason}"
                if e.code < 500 and e.code != 429:
                    break  # a malformed request will not get better by retrying
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                last = str(getattr(e, "reason", e))
            except json.JSONDecodeError as e:
                last = f"response is not JSON ({e})"
            log.warning(
                "SandboxFusion %s: attempt %d/%d failed: %s", self.endpoint, attempt + 1, self.retries + 1, last
            )
        raise ServerUnreachable(
            f"SandboxFusion at {self.endpoint} failed after {self.retries + 1} attempts ({last}); "
            "start it with `make sandbox`, check the URL, or use --sandbox local"
        )


class ServerUnreachable(Exception):
    """The server did not answer (refused, reset, timed out, 5xx) after every retry."""


def map_response(resp: dict, wall: float, timeout: float, output_bytes: int) -> RunResult:
    """SandboxFusion's response -> RunResult (the table is in docs/sandbox.md)."""
    top = resp.get("status")
    rr = resp.get("run_result") or {}
    if top == "SandboxError" or not isinstance(rr, dict):
        return RunResult(
            "sandbox_error", wall_s=wall, message=f"SandboxFusion SandboxError: {resp.get('message', '')}"[:500]
        )
    if not rr:
        # No run happened: for Python that is a server-side failure (there is no compile step).
        cr = resp.get("compile_result") or {}
        return RunResult(
            "sandbox_error",
            wall_s=wall,
            message=f"SandboxFusion returned no run_result (status {top!r}, {resp.get('message', '')} {cr.get('stderr', '')})"[
                :500
            ],
        )
    stdout = rr.get("stdout") or ""
    stderr = (rr.get("stderr") or "")[-STDERR_KEEP:]
    rc = rr.get("return_code")
    exec_s = float(rr.get("execution_time") or wall)
    rstatus = rr.get("status")
    if rstatus == "TimeLimitExceeded":
        return RunResult(
            "timeout", rc, stdout[:output_bytes], stderr, wall, exec_s, f"wall-clock limit of {timeout:g} s reached"
        )
    if len(stdout.encode("utf-8")) > output_bytes:
        return RunResult(
            "output_limit",
            rc,
            stdout[:output_bytes],
            stderr,
            wall,
            exec_s,
            f"output passed the cap of {output_bytes} bytes",
        )
    if rstatus == "Finished" and rc == 0:
        return RunResult("ok", 0, stdout, stderr, wall, exec_s)
    if rstatus not in ("Finished", "Error") or rc is None:
        # No exit code: the command did not run to an end the server could observe.
        return RunResult(
            "sandbox_error",
            rc,
            stdout,
            stderr,
            wall,
            exec_s,
            f"SandboxFusion run status {rstatus!r} without an exit code",
        )
    if is_memory_error(stderr):
        return RunResult("memory_exceeded", rc, stdout, stderr, wall, exec_s, "memory limit reached")
    return RunResult("runtime_error", rc, stdout, stderr, wall, exec_s, f"exit code {rc}")
