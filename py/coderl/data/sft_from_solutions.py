"""SFT chat rows from problems with known solutions: the eval prompt as the user turn, the solution as the answer.

    python -m coderl.data.sft_from_solutions --input DIR/codecontests_train300.jsonl --out sft.jsonl

Input rows have CodeContests' train300 layout (`id`, `statement`, `solution`, `tests`). Each output
row is what `make prepare-sft` reads: `id`, `messages` (the prompt every eval backend sends for a
stdin/stdout problem, then the solution in a python code block, as the answer extractor expects)
and `tests` (for `prepare-sft --validate`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError, DataError
from ..io_utils import atomic_write_jsonl


def rows_from_solutions(path: Path, cfg) -> list[dict]:
    from ..generation import build_messages
    from .loaders.sandboxfusion import problems_from_train300_rows

    raw = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
        missing = [k for k in ("id", "statement", "solution", "tests") if k not in r]
        if missing:
            raise DataError(
                f"{path}:{n}: missing {', '.join(missing)}; expected CodeContests train300 rows "
                f"(id, statement, solution, tests)"
            )
        raw.append(r)
    out = []
    for p in problems_from_train300_rows(raw, "sft_seed", str(path)):
        answer = f"```python\n{p.reference_code.rstrip()}\n```"
        out.append(
            {
                "id": p.id,
                "messages": [*build_messages(p, cfg), {"role": "assistant", "content": answer}],
                "tests": p.tests,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m coderl.data.sft_from_solutions", description=__doc__.splitlines()[0])
    ap.add_argument("--input", required=True, help="JSONL of problems with id, statement, solution, tests")
    ap.add_argument("--out", required=True, help="JSONL of chat rows for make prepare-sft INPUT=...")
    ap.add_argument("--eval-config", default=None, help="whose prompts to use (default: configs/eval.yaml)")
    args = ap.parse_args(argv)
    from ..config import load_eval_config

    src = Path(args.input)
    try:
        if not src.is_file():
            raise ConfigError(f"--input {src}: no such file (e.g. DIR/codecontests_train300.jsonl)")
        rows = rows_from_solutions(src, load_eval_config(args.eval_config))
    except (ConfigError, DataError) as e:
        print(f"sft_from_solutions: error: {e}", file=sys.stderr)
        return 2
    atomic_write_jsonl(Path(args.out), rows)
    print(f"sft_from_solutions: {len(rows)} chat rows from {src} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
