"""CodeContests -> Problem, from the Hugging Face parquet schema of deepmind/code_contests.

tests = public + private + generated, deduplicated with order kept; the time limit is kept as
information; the first PYTHON3 solution becomes reference_code. Language ids follow the
dataset's proto: 0 UNKNOWN, 1 PYTHON (Python 2), 2 CPP, 3 PYTHON3, 4 JAVA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from ...errors import DataError
from ..problem import Problem

PYTHON3 = 3
HF_ID = "deepmind/code_contests"
TEST_GROUPS = ("public_tests", "private_tests", "generated_tests")
# proto enum Source
SOURCES = {0: "UNKNOWN_SOURCE", 1: "CODECHEF", 2: "CODEFORCES", 3: "HACKEREARTH", 4: "CODEJAM", 5: "ATCODER", 6: "AIZU"}


def _pairs(group: Any) -> list[tuple[str, str]]:
    if not group:
        return []
    ins, outs = list(group.get("input") or []), list(group.get("output") or [])
    if len(ins) != len(outs):
        raise DataError(f"a test group has {len(ins)} inputs but {len(outs)} outputs")
    return list(zip(ins, outs))


def merged_tests(row: dict[str, Any]) -> tuple[list[dict[str, str]], dict[str, int]]:
    """All test groups in order, exact (input, output) duplicates removed; counts per group."""
    seen: set[tuple[str, str]] = set()
    tests, counts = [], {}
    for g in TEST_GROUPS:
        pairs = _pairs(row.get(g))
        counts[g] = len(pairs)
        for pair in pairs:
            if pair not in seen:
                seen.add(pair)
                tests.append({"input": pair[0], "output": pair[1]})
    return tests, counts


def python3_solution(row: dict[str, Any]) -> str | None:
    sols = row.get("solutions") or {}
    for lang, code in zip(sols.get("language") or [], sols.get("solution") or []):
        if lang == PYTHON3 and code and code.strip():
            return code
    return None


def time_limit_s(row: dict[str, Any]) -> float | None:
    tl = row.get("time_limit")
    if not tl:
        return None
    return float(tl.get("seconds") or 0) + float(tl.get("nanos") or 0) / 1e9 or None


def problem_from_row(row: dict[str, Any], dataset: str, source: str) -> Problem:
    name = row.get("name")
    if not name or not (row.get("description") or "").strip():
        raise DataError(f"CodeContests row {name!r} in {source}: needs 'name' and 'description'")
    try:
        tests, counts = merged_tests(row)
    except DataError as e:
        raise DataError(f"CodeContests problem {name!r} in {source}: {e}; the source file is damaged") from None
    meta = {
        "difficulty": row.get("difficulty"),
        "cf_rating": row.get("cf_rating"),
        "source": SOURCES.get(row.get("source"), row.get("source")),
        "memory_limit_bytes": row.get("memory_limit_bytes"),
        "cf_contest_id": row.get("cf_contest_id"),
        "cf_index": row.get("cf_index"),
        "cf_tags": list(row.get("cf_tags") or []),
        "n_tests": counts,
    }
    for key in ("input_file", "output_file"):
        if row.get(key):
            meta[key] = row[key]  # file I/O problems: the stdio judge cannot serve them as stated
    return Problem(
        id=name,
        dataset=dataset,
        kind="stdio",
        prompt=row["description"],
        source=source,
        tests=tests,
        time_limit_s=time_limit_s(row),
        reference_code=python3_solution(row),
        meta=meta,
    ).with_hash()


def problems_from_rows(rows: Iterable[dict[str, Any]], dataset: str, source: str) -> list[Problem]:
    out, seen = [], set()
    for row in rows:
        p = problem_from_row(row, dataset, source)
        if p.id in seen:
            raise DataError(f"CodeContests: duplicate problem name {p.id!r} in {source}")
        seen.add(p.id)
        out.append(p)
    return out


def draw_key(seed: int, name: str) -> str:
    return hashlib.sha256(f"{seed}:{name}".encode()).hexdigest()


def draw_order(candidates: Iterable[tuple[int, dict[str, Any]]], seed: int, exclude: set[str]) -> list[tuple[int, str]]:
    """(row index, name) of train problems with a PYTHON3 solution, not excluded, in sha256("seed:name") order.

    `candidates` yields (index, row) rows carrying at least `name` and `solutions`.
    """
    keep = [
        (i, r["name"])
        for i, r in candidates
        if r.get("name") and r["name"] not in exclude and PYTHON3 in ((r.get("solutions") or {}).get("language") or [])
    ]
    return sorted(keep, key=lambda t: draw_key(seed, t[1]))


def pick_drawn(
    rows_in_order: Iterator[dict[str, Any]], dataset: str, source: str, size: int
) -> tuple[list[Problem], list[str]]:
    """Walk candidates in draw order; keep the first `size` usable ones (tests present, stdin/stdout I/O)."""
    out, skipped = [], []
    for row in rows_in_order:
        tests, _ = merged_tests(row)
        if not tests or row.get("input_file") or row.get("output_file") or not python3_solution(row):
            skipped.append(row.get("name"))
            continue
        out.append(problem_from_row(row, dataset, source))
        if len(out) == size:
            break
    return out, skipped
