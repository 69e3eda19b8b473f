"""Where CodeContests rows come from: a local parquet snapshot of deepmind/code_contests, or the hub.

Both expose the same two calls, so the draw of codecontests_valid_big is identical either way:
`scan(columns)` yields (row index, row) with only those columns (cheap), `take(indices)` returns
full rows by index.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..errors import DataError

log = logging.getLogger(__name__)


class RowSource(Protocol):
    description: str

    def scan(self, columns: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def take(self, indices: list[int]) -> dict[int, dict[str, Any]]: ...


def find_split_parquets(source_dir: Path, split: str) -> list[Path]:
    """HF layout: data/<split>-00000-of-00001-<hash>.parquet (train has 39 shards)."""
    return sorted(p for p in source_dir.rglob(f"{split}-*.parquet") if p.is_file())


class ParquetRows:
    def __init__(self, files: list[Path], description: str) -> None:
        if not files:
            raise DataError(f"no parquet files for {description}")
        self.files = files
        self.description = description

    def _tables(self, columns: list[str] | None):
        import pyarrow.parquet as pq

        offset = 0
        for f in self.files:
            table = pq.read_table(f, columns=columns)
            yield offset, table
            offset += table.num_rows

    def scan(self, columns: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        for offset, table in self._tables(columns):
            for i, row in enumerate(table.to_pylist()):
                yield offset + i, row

    def take(self, indices: list[int]) -> dict[int, dict[str, Any]]:
        import pyarrow.parquet as pq

        wanted, out, offset = sorted(set(indices)), {}, 0
        for f in self.files:
            n = pq.ParquetFile(f).metadata.num_rows
            local = [i - offset for i in wanted if offset <= i < offset + n]
            if local:
                rows = pq.read_table(f).take(local).to_pylist()
                out.update({offset + j: r for j, r in zip(local, rows)})
            offset += n
        return out


class HubRows:
    """deepmind/code_contests through the `datasets` library (download cached in cache_dir)."""

    def __init__(self, hf_id: str, split: str, cache_dir: Path) -> None:
        try:
            from datasets import load_dataset
        except ImportError:
            raise DataError("online builds need the 'datasets' package: .venv/bin/pip install datasets") from None
        log.info("loading %s split=%s through the datasets library (cache %s)", hf_id, split, cache_dir)
        self.ds = load_dataset(hf_id, split=split, cache_dir=str(cache_dir))
        self.description = f"{hf_id} split={split} (Hugging Face hub)"

    def scan(self, columns: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
        ds = self.ds.select_columns(columns) if columns else self.ds
        yield from enumerate(ds)

    def take(self, indices: list[int]) -> dict[int, dict[str, Any]]:
        idx = sorted(set(indices))
        return dict(zip(idx, self.ds.select(idx)))
