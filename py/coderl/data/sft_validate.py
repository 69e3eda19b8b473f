"""--validate: keep an SFT row that carries tests only if its response passes them in the sandbox."""

from __future__ import annotations

import logging

from .problem import Problem
from .sandbox_check import judge_or_abort
from .sft_rows import SFTRow

log = logging.getLogger(__name__)


def row_problem(row: SFTRow) -> Problem | None:
    """The row's tests as a Problem the judge understands (None when the row has no tests)."""
    prompt = next((m["content"] for m in row.messages if m["role"] == "user"), "")
    if "test_list" in row.tests:
        setup = row.tests.get("test_setup_code") or ""
        test_code = "\n".join(([setup, ""] if setup.strip() else []) + row.tests["test_list"]) + "\n"
        return Problem(id=row.id, dataset="sft", kind="functional", prompt=prompt, test_code=test_code)
    if "tests" in row.tests:
        return Problem(
            id=row.id,
            dataset="sft",
            kind="stdio",
            prompt=prompt,
            tests=[{"input": t["input"], "output": t["output"]} for t in row.tests["tests"]],
        )
    return None


def validate_rows(rows: list[SFTRow], sandbox: str = "local", cfg=None) -> dict[str, str]:
    """row id -> why it failed, for rows with tests whose extracted response does not pass.

    A sandbox failure (the infrastructure, not the response) aborts: it must never drop data.
    """
    from ..config import load_eval_config
    from ..generation.extract import extract_code

    cfg = cfg or load_eval_config()
    todo = [(r, row_problem(r)) for r in rows]
    todo = [(r, p) for r, p in todo if p is not None]
    verdicts = judge_or_abort(
        [(f"validating row {r.id} (line {r.line})", p, extract_code(r.response()).code) for r, p in todo],
        sandbox,
        cfg,
        "for --validate",
    )
    failed = {r.id: f"{v.verdict}: {v.detail}".strip(": ") for (r, _), v in zip(todo, verdicts) if not v.accepted}
    log.info("validated %d rows with tests: %d failed", len(todo), len(failed))
    return failed
