"""Where RL problems come from, as (position, Problem | None, issue | None) with nothing silently lost.

- a local JSONL file: either the codecontests_train300 format (`id`, `statement`, `solution`,
  `tests` [{input, output}]) or coderl Problem records (data/raw/<name>_raw.jsonl); the position
  is the 1-based line;
- deepmind/code_contests train through `make data`'s row sources (a local parquet snapshot in
  --source DIR, else the Hugging Face hub); the position is the row index.

A line that cannot become a Problem yields (line, None, Issue("malformed", ...)).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..data.loaders import codecontests
from ..data.problem import Problem
from ..data.sft_rows import Issue
from ..errors import DataError
from ..io_utils import jsonl_objects

Item = tuple[int, Problem | None, Issue | None]
TRAIN300_KEYS = ("id", "statement", "tests")


def _from_train300(obj: dict, dataset: str, source: str) -> Problem:
    missing = [k for k in TRAIN300_KEYS if k not in obj]
    if missing:
        raise DataError(
            f"missing key(s) {missing}; expected {list(TRAIN300_KEYS)} (+ 'solution') or a coderl Problem record"
        )
    tests = obj["tests"]
    if not isinstance(tests, list) or not all(isinstance(t, dict) for t in tests):
        raise DataError("'tests' must be a list of {input, output}")
    return Problem(
        id=str(obj["id"]),
        dataset=dataset,
        kind="stdio",
        prompt=obj["statement"],
        source=source,
        tests=[{"input": t.get("input"), "output": t.get("output")} for t in tests],
        reference_code=obj.get("solution") or None,
    )


def read_jsonl_problems(path: str | Path, dataset: str = "codecontests_train") -> Iterator[Item]:
    """Each line of a local file as a Problem; a bad line is reported with its number, never skipped."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"RL input not found: {path}; pass --input FILE.jsonl (e.g. DIR/codecontests_train300.jsonl) "
            f"or --hf for deepmind/code_contests train"
        )
    for line_no, obj, bad, why in jsonl_objects(path):
        if bad:
            yield (
                line_no,
                None,
                Issue("malformed", line_no, None, f"not valid JSON ({why})" if bad == "not_json" else why),
            )
            continue
        try:
            p = (
                Problem.from_dict(obj, where=f"{path.name}:{line_no}")
                if "kind" in obj
                else _from_train300(obj, dataset, path.name)
            )
        except (DataError, TypeError) as e:
            yield line_no, None, Issue("malformed", line_no, str(obj.get("id") or "") or None, str(e))
            continue
        yield line_no, p, None


def codecontests_train(
    source_dir: Path | None, cache_dir: Path, limit: int | None = None, dataset: str = "codecontests_train"
) -> Iterator[Item]:
    """deepmind/code_contests train rows (the same row sources as `make data`) as Problems."""
    from ..data.rowsources import HubRows, ParquetRows, find_split_parquets

    files = find_split_parquets(source_dir, "train") if source_dir else []
    rows = (
        ParquetRows(files, f"{source_dir} (train parquet)")
        if files
        else HubRows(codecontests.HF_ID, "train", cache_dir)
    )
    for n, (i, row) in enumerate(rows.scan()):
        if limit is not None and n >= limit:
            break
        pos = i + 1
        try:
            p = codecontests.problem_from_row(row, dataset, f"{codecontests.HF_ID} train")
        except DataError as e:
            yield pos, None, Issue("malformed", pos, row.get("name"), str(e))
            continue
        if row.get("input_file") or row.get("output_file"):
            # file I/O problems: the stdio judge cannot serve them as stated; dropped with that reason
            p.meta["file_io"] = True
        yield pos, p, None


def load_rl_source(
    input_path: str | None, source: str | None, cache_dir: str, limit: int | None
) -> tuple[Iterator[Item], str, str]:
    """prepare-rl's input: a local JSONL (`input_path`), else deepmind/code_contests train (a local parquet
    snapshot in `source`, else the hub). Returns (items, input name, the JSONL's sha256 or "")."""
    from ..data.build import file_sha256

    if input_path:
        path = Path(input_path)
        return read_jsonl_problems(path), path.name, (file_sha256(path) if path.is_file() else "")
    items = codecontests_train(Path(source) if source else None, Path(cache_dir), limit)
    return items, f"deepmind/code_contests train{f' (first {limit})' if limit else ''}", ""
