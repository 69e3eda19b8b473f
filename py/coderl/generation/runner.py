"""Generate for a list of problems into a JSONL file, resumably (what `coderl generate` runs).

Each record is appended (locked, whole lines) the moment it arrives, so an interrupted run loses
nothing it already has; a re-run asks only for problems without a successful record. The evaluator
keeps its own cache in the eval output folder; this is the standalone path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from ..data.problem import Problem
from ..io_utils import append_jsonl, read_jsonl
from .base import Backend
from .prompts import build_messages
from .records import Generation

log = logging.getLogger(__name__)


def done_ids(out_path: str | Path) -> set[str]:
    """Ids that already have a successful record in out_path (a failed one is asked again)."""
    path = Path(out_path)
    if not path.is_file():
        return set()
    latest: dict[str, Generation] = {}
    for i, row in enumerate(read_jsonl(path, tolerate_torn_tail=True), start=1):
        g = Generation.from_dict(row, where=f"{path}:{i}")
        latest[g.id] = g
    return {k for k, g in latest.items() if g.ok}


def generate_to_file(backend: Backend, problems: Iterable[Problem], cfg, out_path: str | Path) -> dict[str, int]:
    """Ask the backend for every problem not yet done; append each record as it completes."""
    problems = list(problems)
    skip = done_ids(out_path)
    todo = [p for p in problems if p.id not in skip]
    log.info("generate: %d problems, %d already done, %d to ask", len(problems), len(problems) - len(todo), len(todo))
    counts = {"asked": len(todo), "ok": 0, "failed": 0, "skipped": len(problems) - len(todo), "truncated": 0}
    items = ((p, build_messages(p, cfg)) for p in todo)
    for g in backend.generate(items):
        append_jsonl(out_path, g.to_dict())
        counts["ok" if g.ok else "failed"] += 1
        counts["truncated"] += int(g.truncated)
    return counts
