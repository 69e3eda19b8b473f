"""Executing untrusted code and judging it.

``make_executor("local" | "http(s)://host:port" | "url1,url2,...", cfg)`` returns an Executor with
``run(code, stdin="", timeout_s=None, memory_mb=None) -> RunResult``, ``health() -> (ok, why)``
and ``isolation_level``. Limits default to ``cfg.sandbox`` (configs/eval.yaml).
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

from ..errors import SandboxUnavailable
from .types import RunResult, Verdict


class Executor(Protocol):
    isolation_level: str

    def run(
        self, code: str, stdin: str = "", timeout_s: float | None = None, memory_mb: int | None = None
    ) -> RunResult: ...

    def health(self) -> tuple[bool, str]: ...


_cache: dict[tuple, Executor] = {}
_cache_lock = threading.Lock()


def make_executor(spec: str = "local", cfg=None) -> Executor:
    """An executor for `spec` ("local" or a SandboxFusion URL), limits from `cfg.sandbox`.

    Executors are cached per (spec, limits): detection of the isolation level runs once.
    """
    from ..config import load_eval_config

    cfg = cfg or load_eval_config()
    sb = cfg.sandbox
    out_bytes = int(float(sb.get("max_output_mb", 64)) * 1024 * 1024)
    # a forced level (CODERL_SANDBOX_LEVEL) is part of the key; a closed executor (an evaluation
    # ended or was interrupted: close() is final) is replaced
    key = (spec, sb["run_timeout_s"], sb["memory_limit_mb"], out_bytes, os.environ.get("CODERL_SANDBOX_LEVEL"))
    with _cache_lock:
        if key in _cache and not getattr(_cache[key], "closed", False):
            return _cache[key]
        if spec == "local":
            from .local import executor_from_config

            ex: Executor = executor_from_config(cfg)
        elif "," in spec:
            from .multi_server import multi_executor_from_config

            ex = multi_executor_from_config(spec, cfg, out_bytes)
        elif spec.startswith(("http://", "https://")):
            from .sandboxfusion import SandboxFusionExecutor

            ex = SandboxFusionExecutor(
                spec,
                timeout_s=sb["run_timeout_s"],
                memory_mb=sb["memory_limit_mb"],
                output_bytes=out_bytes,
                retries=int(cfg.serving.get("retries", 3)),
            )
        else:
            raise SandboxUnavailable(
                f"unknown sandbox {spec!r}: use 'local', a SandboxFusion URL like http://localhost:8080, "
                "or several separated by commas"
            )
        _cache[key] = ex
        return ex


__all__ = ["Executor", "RunResult", "Verdict", "make_executor"]
