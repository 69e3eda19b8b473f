"""`coderl sandbox run --code FILE [--stdin FILE] [--timeout S] [--memory-mb M]` | `coderl sandbox info`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DataError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run one program and print its RunResult as JSON")
    r.add_argument("--code", required=True, help="Python file to run")
    r.add_argument("--stdin", help="file fed to the program's stdin")
    r.add_argument(
        "--timeout", type=float, help="wall-clock seconds (default: configs/eval.yaml sandbox.run_timeout_s)"
    )
    r.add_argument("--memory-mb", type=int, help="address-space limit (default: sandbox.memory_limit_mb)")
    r.add_argument("--sandbox", default="local", help="local (default) or a SandboxFusion URL")
    r.add_argument("--config", help="eval config (default configs/eval.yaml)")
    i = sub.add_parser("info", help="print the isolation level in force and the limits")
    i.add_argument("--sandbox", default="local", help="local (default) or a SandboxFusion URL")
    i.add_argument("--config", help="eval config (default configs/eval.yaml)")


def _read(path: str, what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} file not found: {p}")
    return p.read_text(encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from . import make_executor

    cfg = load_eval_config(args.config)
    ex = make_executor(args.sandbox, cfg)
    if args.action == "info":
        ok, why = ex.health()
        info = ex.describe() if hasattr(ex, "describe") else {"isolation_level": ex.isolation_level}
        print(json.dumps({**info, "healthy": ok, "health": why}))
        return 0 if ok else 1
    code = _read(args.code, "--code")
    stdin = _read(args.stdin, "--stdin") if args.stdin else ""
    result = ex.run(code, stdin=stdin, timeout_s=args.timeout, memory_mb=args.memory_mb)
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0 if result.status != "sandbox_error" else 1
