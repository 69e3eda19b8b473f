"""Offline CodeContests stand-ins from the offline data folder (train-split problems; never the real eval sets).

codecontests_sample20.jsonl (SandboxFusion's sample format): `content`, `labels` (JSON with name),
`test` (JSON list of {input: {stdin}, output: {stdout}}). codecontests_train300.jsonl: `id`,
`statement`, `solution` (a known Python solution), `tests` (list of {input, output}).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ...errors import DataError
from ..problem import Problem


def _json_field(row: dict[str, Any], key: str, where: str) -> Any:
    v = row.get(key)
    if isinstance(v, str):
        try:
            return json.loads(v)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: field '{key}' is not valid JSON ({e.msg})") from None
    return v


def problems_from_sample_rows(rows: Iterable[dict[str, Any]], dataset: str, source: str) -> list[Problem]:
    out = []
    for n, row in enumerate(rows, start=1):
        where = f"{source} row {n}"
        labels = _json_field(row, "labels", where) or {}
        tests_raw = _json_field(row, "test", where)
        if not isinstance(tests_raw, list):
            raise DataError(f"{where}: 'test' must be a list of {{input: {{stdin}}, output: {{stdout}}}}")
        tests = [{"input": t["input"]["stdin"], "output": t["output"]["stdout"]} for t in tests_raw]
        out.append(
            Problem(
                id=labels.get("name") or str(row.get("id")),
                dataset=dataset,
                kind="stdio",
                prompt=row["content"],
                source=source,
                tests=tests,
                meta={"difficulty": labels.get("difficulty"), "source": labels.get("source"), "row_id": row.get("id")},
            ).with_hash()
        )
    return out


def problems_from_train300_rows(rows: Iterable[dict[str, Any]], dataset: str, source: str) -> list[Problem]:
    return [
        Problem(
            id=row["id"],
            dataset=dataset,
            kind="stdio",
            prompt=row["statement"],
            source=source,
            tests=[{"input": t["input"], "output": t["output"]} for t in row["tests"]],
            reference_code=row.get("solution") or None,
        ).with_hash()
        for row in rows
    ]
