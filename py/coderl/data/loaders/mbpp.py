"""MBPP -> Problem, and the documented draw of mbpp_reg from the test split.

test_code = test_setup_code + the test_list asserts; the asserts also go to meta["test_list"]
because the prompt template shows them to the model. entry_point stays None (no check()).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..problem import Problem


def _lf(text: str) -> str:
    """The release mixes CRLF and stray CR line ends; normalize to LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


SOURCE = "google-research-datasets/mbpp (full config, test split = task_id 11-510)"


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: malformed JSON ({e.msg}); use the original mbpp.jsonl release") from None
    return rows


def draw_task_ids(available: Iterable[int], lo: int, hi: int, size: int, seed: int) -> list[int]:
    """random.Random(seed).sample over the sorted task_ids in [lo, hi], returned sorted."""
    pool = sorted(t for t in set(available) if lo <= t <= hi)
    if len(pool) < size:
        raise DataError(f"MBPP: only {len(pool)} task_ids in {lo}-{hi}, need {size}; the source is incomplete")
    return sorted(random.Random(seed).sample(pool, size))


def problem_from_row(r: dict[str, Any], dataset: str) -> Problem:
    tid = r.get("task_id")
    if not isinstance(tid, int) or not r.get("text") or not r.get("test_list"):
        raise DataError(f"MBPP row task_id={tid!r}: needs an integer task_id, text and test_list")
    tests = [_lf(t) for t in r["test_list"]]
    setup = _lf(r.get("test_setup_code") or "").strip()
    test_code = "\n".join(([setup, ""] if setup else []) + tests) + "\n"
    return Problem(
        id=f"mbpp/{tid}",
        dataset=dataset,
        kind="functional",
        prompt=r["text"].strip(),
        source=SOURCE,
        entry_point=None,
        test_code=test_code,
        reference_code=_lf(r.get("code") or "") or None,
        meta={"task_id": tid, "test_list": tests, "test_setup_code": setup},
    ).with_hash()


def draw_problems(rows: list[dict[str, Any]], dataset: str, lo: int, hi: int, size: int, seed: int) -> list[Problem]:
    by_id = {r["task_id"]: r for r in rows if isinstance(r.get("task_id"), int)}
    return [problem_from_row(by_id[t], dataset) for t in draw_task_ids(by_id, lo, hi, size, seed)]
