"""outputs/<phase>/eval_history.jsonl: one JSON line per finished evaluation.

A line: step, checkpoint, tier, timestamp, eval_fingerprint, scores.<dataset>.{accepted_at_1,
exec_success_rate, n, fingerprint, ...}. Recording the same (step, tier, eval_fingerprint) again
replaces the old line: the whole file is rewritten atomically under its lock, so a reader sees
the old or the new file, never half of one, and a resumed run leaves no duplicate.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..io_utils import atomic_write_jsonl, locked, read_jsonl

log = logging.getLogger(__name__)

HISTORY_NAME = "eval_history.jsonl"
REQUIRED = ("step", "tier", "eval_fingerprint", "scores")


def history_path(out_root: str | Path, phase: str) -> Path:
    return Path(out_root) / phase / HISTORY_NAME


def _key(row: dict[str, Any]) -> tuple:
    return (int(row["step"]), int(row["tier"]), str(row["eval_fingerprint"]))


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """All rows (empty when the file does not exist). A malformed row raises DataError naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = read_jsonl(path, tolerate_torn_tail=True)
    for i, row in enumerate(rows, start=1):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise DataError(
                f"{path}: row {i} lacks {', '.join(missing)}; it was not written by coderl eval; "
                "remove that line or restore the file"
            )
    return rows


def has_evaluation(path: str | Path, step: int, tier: int, fingerprint: str) -> bool:
    return any(_key(r) == (int(step), int(tier), str(fingerprint)) for r in read_history(path))


def record_evaluation(path: str | Path, row: dict[str, Any]) -> bool:
    """Add `row`, replacing any row with the same (step, tier, eval_fingerprint). True if it replaced one."""
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise ValueError(f"history row lacks {missing}")
    path = Path(path)
    with locked(path):
        rows = read_history(path)
        kept = [r for r in rows if _key(r) != _key(row)]
        replaced = len(kept) != len(rows)
        kept.append(row)
        kept.sort(key=lambda r: (int(r["step"]), int(r["tier"]), str(r.get("timestamp", ""))))
        atomic_write_jsonl(path, kept)
    if replaced:
        log.info("history %s: replaced the earlier line for step %s tier %s", path, row["step"], row["tier"])
    return replaced
