"""Atomic writes and locked whole-line appends."""

from __future__ import annotations

import json
import multiprocessing as mp

import pytest

from coderl.errors import DataError
from coderl.io_utils import append_jsonl, atomic_write_json, read_jsonl


def _append_many(path, worker, n):
    for i in range(n):
        append_jsonl(path, {"worker": worker, "i": i, "pad": "x" * 5000})


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "h.jsonl"
    procs = [mp.get_context("fork").Process(target=_append_many, args=(path, w, 50)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    rows = read_jsonl(path)
    assert len(rows) == 150
    assert sorted((r["worker"], r["i"]) for r in rows) == sorted((w, i) for w in range(3) for i in range(50))


def test_torn_tail_is_dropped_and_repaired(tmp_path):
    path = tmp_path / "h.jsonl"
    append_jsonl(path, {"a": 1})
    with open(path, "a") as f:
        f.write('{"a": 2, "torn')  # a crash mid-append
    assert read_jsonl(path, tolerate_torn_tail=True) == [{"a": 1}]
    with pytest.raises(DataError, match=r"h.jsonl:2: malformed JSON"):
        read_jsonl(path)
    append_jsonl(path, {"a": 3})
    assert read_jsonl(path) == [{"a": 1}, {"a": 3}]


def test_atomic_write_json_replaces(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"v": 1})
    atomic_write_json(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
