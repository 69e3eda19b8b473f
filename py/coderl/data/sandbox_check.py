"""Judge data in the sandbox before training on it (prepare-sft --validate, prepare-rl's reference check).

Judged exactly like evaluation (same executor, limits and comparator). A sandbox failure is the
infrastructure, not the data: it aborts the whole run, so it can never silently drop rows.
"""

from __future__ import annotations

from ..errors import InfrastructureError
from .problem import Problem


def judge_or_abort(jobs: list[tuple[str, Problem, str]], sandbox: str, cfg, purpose: str) -> list:
    """The verdict of each (label, problem, code) job, in order; raises InfrastructureError on a sandbox failure.

    purpose completes "sandbox '<name>' is not usable ...", label "the sandbox failed while ..." (the error messages).
    """
    from ..sandbox import make_executor
    from ..sandbox.judge import JudgePool

    executor = make_executor(sandbox, cfg)
    ok, why = executor.health()
    if not ok:
        raise InfrastructureError(f"sandbox '{sandbox}' is not usable {purpose}: {why}; see: coderl sandbox --help")
    verdicts = []
    with JudgePool(
        executor, cfg.execution.get("workers", 0), compare=cfg.judge["stdio_compare"], stop_at_first_failure=True
    ) as pool:
        futures = [(label, pool.submit(p, code)) for label, p, code in jobs]
        for label, fut in futures:
            v = fut.result()
            if v.verdict == "sandbox_error":
                raise InfrastructureError(
                    f"the sandbox failed while {label}: {v.detail}; nothing was written; fix the sandbox and re-run"
                )
            verdicts.append(v)
    return verdicts
