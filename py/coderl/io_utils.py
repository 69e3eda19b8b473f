"""Writes that matter: atomic file replacement and locked, whole-line JSONL appends."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import DataError


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temp file in the same directory, fsync, then rename: readers see old or new, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_parquet(path: str | Path, table) -> None:
    """A pyarrow table as parquet, byte-identical for the same table (zstd, no statistics)."""
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=False)
    atomic_write_bytes(path, buf.getvalue())


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: str | Path, rows: Iterable[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """An exclusive advisory lock on `<path>.lock` (works across processes on one host)."""
    lock_path = Path(str(path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lf:
        fcntl.flock(lf.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lf.fileno(), fcntl.LOCK_UN)


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one JSON line under a lock with a single write + fsync.

    A crash mid-write can leave at most a torn last line; read_jsonl(tolerate_torn_tail=True)
    drops it, so a reader never sees half a record.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    with locked(path):
        # Repair a torn tail left by an earlier crash before appending after it.
        if path.exists() and path.stat().st_size > 0:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    _truncate_torn_tail(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def _truncate_torn_tail(path: Path) -> None:
    data = path.read_bytes()
    cut = data.rfind(b"\n") + 1  # 0 when no complete line exists
    with open(path, "r+b") as f:
        f.truncate(cut)


def jsonl_objects(path: str | Path) -> Iterator[tuple[int, dict | None, str | None, str | None]]:
    """(line number, object, None, None) per non-blank line, lazily; a bad line comes as
    (line number, None, "not_json" | "not_object", why) so the caller reports it in its own terms, never skips it."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, None, "not_json", f"{e.msg} at column {e.colno}"
                continue
            if not isinstance(obj, dict):
                yield n, None, "not_object", f"expected a JSON object, got {type(obj).__name__}"
                continue
            yield n, obj, None, None


def read_jsonl(path: str | Path, *, tolerate_torn_tail: bool = False) -> list[dict]:
    """Read a JSONL file. A malformed line raises DataError naming file and line number.

    With tolerate_torn_tail, an unterminated, unparsable last line (a crash mid-append) is dropped.
    """
    path = Path(path)
    rows: list[dict] = []
    raw = path.read_text(encoding="utf-8")
    lines = raw.split("\n")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            is_tail = i == len(lines) and not raw.endswith("\n")
            if tolerate_torn_tail and is_tail:
                break
            raise DataError(
                f"{path}:{i}: malformed JSON ({e.msg} at column {e.colno}); fix or remove that line"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{i}: expected a JSON object per line, got {type(obj).__name__}")
        rows.append(obj)
    return rows
