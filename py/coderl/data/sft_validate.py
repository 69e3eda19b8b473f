"""--validate: keep an SFT row that carries tests only if its response passes them in the sandbox."""

from __future__ import annotations

import logging

from ..errors import InfrastructureError
from .problem import Problem
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
        return Problem(id=row.id, dataset="sft", kind="stdio", prompt=prompt,
                       tests=[{"input": t["input"], "output": t["output"]} for t in row.tests["tests"]])
    return None


def validate_rows(rows: list[SFTRow], sandbox: str = "local", cfg=None) -> dict[str, str]:
    """row id -> why it failed, for rows with tests whose extracted response does not pass.

    A sandbox failure (the infrastructure, not the response) aborts: it must never drop data.
    """
    from ..config import load_eval_config
    from ..generation.extract import extract_code
    from ..sandbox import make_executor
    from ..sandbox.judge import JudgePool

    cfg = cfg or load_eval_config()
    executor = make_executor(sandbox, cfg)
    ok, why = executor.health()
    if not ok:
        raise InfrastructureError(f"sandbox '{sandbox}' is not usable for --validate: {why}; see: coderl sandbox --help")
    failed: dict[str, str] = {}
    todo = [(r, row_problem(r)) for r in rows]
    todo = [(r, p) for r, p in todo if p is not None]
    with JudgePool(executor, cfg.execution.get("workers", 0), compare=cfg.judge["stdio_compare"],
                   stop_at_first_failure=True) as pool:
        futures = [(r, pool.submit(p, extract_code(r.response()).code)) for r, p in todo]
        for r, fut in futures:
            v = fut.result()
            if v.verdict == "sandbox_error":
                raise InfrastructureError(f"the sandbox failed while validating row {r.id} (line {r.line}): {v.detail}; "
                                          f"nothing was written; fix the sandbox and re-run")
            if not v.accepted:
                failed[r.id] = f"{v.verdict}: {v.detail}".strip(": ")
    log.info("validated %d rows with tests: %d failed", len(todo), len(failed))
    return failed
