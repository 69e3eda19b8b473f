"""check Python, torch/CUDA, verl, vLLM, sandbox, disk and data.

`coderl env-check` / `make env-check [GPUS=N]`: one PASS/WARN/FAIL row per check (coderl.envcheck); exit 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpus", type=int, default=None, help="GPUs the planned run needs (FAIL if fewer are visible)")
    p.add_argument("--sandbox", default=None, help="local (default) or a SandboxFusion URL (also $SANDBOX_URL)")
    p.add_argument("--eval-config", default=None, help="eval config (default configs/eval.yaml)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")


def main_args(argv: list[str]) -> argparse.Namespace:
    """Parse env-check's options (used by tests and by callers that run the checks in-process)."""
    p = argparse.ArgumentParser(prog="coderl env-check")
    add_arguments(p)
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    from ..envcheck import FAIL, format_table, run_checks

    rows = run_checks(args)
    if args.json:
        print(json.dumps({"rows": [asdict(r) for r in rows], "ok": all(r.status != FAIL for r in rows)}, indent=2))
    else:
        print(format_table(rows))
    return 1 if any(r.status == FAIL for r in rows) else 0
