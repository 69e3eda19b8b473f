"""run one program in the sandbox, report the isolation level, or start SandboxFusion (make sandbox).

`coderl sandbox` (= `coderl sandbox start`, what `make sandbox` runs): start SandboxFusion in
Docker where Docker works; otherwise say that the embedded executor (--sandbox local, the default)
is in use, needs nothing started, and print its isolation level.
`coderl sandbox info [--sandbox local|URL]`: the isolation level in force and the limits.
`coderl sandbox run --code FILE [--stdin FILE] [--timeout S] [--memory-mb M]`: one program, its RunResult as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import DataError
from ..sandbox.fusion_docker import DEFAULT_IMAGE, DEFAULT_PORT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action")
    # no subcommand = start (after add_subparsers: its own default, None, would win otherwise)
    parser.set_defaults(action="start", image=DEFAULT_IMAGE, port=DEFAULT_PORT, config=None)
    s = sub.add_parser("start", help="start SandboxFusion in Docker, or report the embedded executor (the default)")
    s.add_argument("--image", default=DEFAULT_IMAGE, help=f"SandboxFusion image (default {DEFAULT_IMAGE})")
    s.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})")
    s.add_argument("--config", help="eval config (default configs/eval.yaml)")
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


def _info(ex) -> int:
    ok, why = ex.health()
    info = ex.describe() if hasattr(ex, "describe") else {"isolation_level": ex.isolation_level}
    print(json.dumps({**info, "healthy": ok, "health": why}))
    return 0 if ok else 1


def _start(args: argparse.Namespace, cfg) -> int:
    from ..sandbox import make_executor
    from ..sandbox.fusion_docker import docker_unusable, start_sandboxfusion

    why = docker_unusable()
    if why is not None:
        print(f"coderl sandbox: {why}")
        print("The embedded executor is the default (SANDBOX=local) and needs nothing started. Its isolation here:")
        return _info(make_executor("local", cfg))

    def healthy(url: str) -> bool:
        return make_executor(url, cfg).health()[0]

    url = start_sandboxfusion(args.image, args.port, healthy)
    print(f"SandboxFusion is up at {url}: use SANDBOX={url} (make eval ... SANDBOX={url})")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..config import load_eval_config
    from ..sandbox import make_executor

    cfg = load_eval_config(args.config)
    if args.action == "start":
        return _start(args, cfg)
    ex = make_executor(args.sandbox, cfg)
    if args.action == "info":
        return _info(ex)
    code = _read(args.code, "--code")
    stdin = _read(args.stdin, "--stdin") if args.stdin else ""
    result = ex.run(code, stdin=stdin, timeout_s=args.timeout, memory_mb=args.memory_mb)
    print(json.dumps(result.to_dict(), ensure_ascii=False))
    return 0 if result.status != "sandbox_error" else 1
