"""prepare-rl: real CodeContests train problems, references judged in the real sandbox, verl's RLHFDataset reads it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from coderl import cli
from coderl.config import load_eval_config
from coderl.data.problem import Problem
from coderl.errors import DataError
from coderl.generation.prompts import build_messages
from coderl.reward.ground_truth import parse_ground_truth
from coderl.rl.data import prepare_rl
from coderl.rl.sources import read_jsonl_problems

N = 8  # real problems judged per run: a few seconds each on 2 shared cores


@pytest.fixture(scope="module")
def train_rows(shared_data) -> list[dict]:
    lines = (shared_data / "codecontests_train300.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:N]]


@pytest.fixture(scope="module")
def tok():
    from coderl.models.tokenizer import load_qwen_tokenizer

    return load_qwen_tokenizer()


def bad_rows(rows: list[dict]) -> list[dict]:
    """Three problems the checks must drop, built from real ones."""
    few = dict(rows[0], id="few-tests", tests=rows[0]["tests"][:3])
    wrong = dict(rows[1], id="wrong-reference", solution="print(0)")
    noref = dict(rows[2], id="no-reference", solution="")
    return [few, wrong, noref]


def write(path: Path, rows: list, raw: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r) for r in rows]
    for pos, text in (raw or {}).items():
        lines.insert(pos, text)
    path.write_text("\n".join(lines) + "\n")
    return path


def prep(path: Path, out: Path, tok, **kw):
    kw.setdefault("decontaminate", False)
    kw.setdefault("val_size", 2)
    return prepare_rl(read_jsonl_problems(path), out, input_name=path.name, input_sha256="x", tokenizer=tok, **kw)


@pytest.fixture(scope="module")
def prepared(train_rows, tok, tmp_path_factory):
    d = tmp_path_factory.mktemp("rl")
    inp = write(d / "in.jsonl", train_rows + bad_rows(train_rows))
    return prep(inp, d / "out", tok), d


def test_checks_drop_what_cannot_be_a_reward(prepared, train_rows):
    from coderl.sandbox import make_executor
    from coderl.sandbox.judge import judge_problem

    rep, d = prepared
    assert rep.dropped["few-tests"] == "too_few_tests: 3 test(s) < 5"
    assert rep.dropped["no-reference"].startswith("no_reference")
    assert rep.dropped["wrong-reference"].startswith("reference_failed: wrong_answer on test 0")
    # real references that fail their own tests (several valid answers judged exactly, crashes) are
    # dropped, and only those: each one is re-judged here one by one, the way `coderl judge` does
    cfg = load_eval_config()
    ex = make_executor("local", cfg)
    failing = set()
    for r in train_rows:
        p = Problem(id=r["id"], dataset="t", kind="stdio", prompt=r["statement"], tests=r["tests"])
        if not judge_problem(p, r["solution"], ex, compare=cfg.judge["stdio_compare"]).accepted:
            failing.add(r["id"])
    real_dropped = {k for k, v in rep.dropped.items() if k not in ("few-tests", "no-reference", "wrong-reference")}
    assert real_dropped == failing and all(rep.dropped[k].startswith("reference_failed") for k in failing)
    assert rep.validation["checked"] == N + 1 and rep.validation["failed"] == len(failing) + 1
    kept = N - len(failing)
    assert rep.counts == {"problems": N + 3, "dropped": 3 + len(failing), "train": kept - 2, "val": 2}
    mapping = json.loads((d / "out" / "split_mapping.json").read_text())
    assert sorted(mapping["splits"]) == sorted(r["id"] for r in train_rows if r["id"] not in failing)
    assert set(mapping["dropped"]) == {"few-tests", "no-reference", "wrong-reference"} | failing


def test_rows_are_what_verl_and_the_reward_need(prepared, train_rows):
    rep, d = prepared
    cfg = load_eval_config()
    table = pq.read_table(d / "out" / "rl_train.parquet").to_pylist()
    assert len(table) == rep.counts["train"] > 0
    by_id = {r["id"]: r for r in train_rows}
    for k, row in enumerate(table):
        assert row["data_source"] == "coderl" and row["ability"] == "code"
        assert row["extra_info"]["index"] == k and row["extra_info"]["split"] == "train"
        src = by_id[row["extra_info"]["id"]]
        p = parse_ground_truth(row["reward_model"]["ground_truth"])
        assert p.tests == [{"input": t["input"], "output": t["output"]} for t in src["tests"]]
        assert p.reference_code is None  # the reward never sees (or leaks) the solution
        assert row["prompt"] == build_messages(p, cfg)  # exactly what evaluation sends
        assert src["statement"].strip() in row["prompt"][-1]["content"]


def test_split_is_deterministic_whatever_the_input_order(train_rows, tok, tmp_path):
    a = prep(write(tmp_path / "a.jsonl", train_rows), tmp_path / "a", tok, validate=False)
    shuffled = list(train_rows)
    random.Random(7).shuffle(shuffled)
    b = prep(write(tmp_path / "b.jsonl", shuffled), tmp_path / "b", tok, validate=False)
    ma, mb = (json.loads((tmp_path / x / "split_mapping.json").read_text())["splits"] for x in "ab")
    assert ma == mb and a.counts == b.counts
    prep(write(tmp_path / "a.jsonl", train_rows), tmp_path / "a2", tok, validate=False)
    for f in ("rl_train.parquet", "rl_val.parquet", "split_mapping.json"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "a2" / f).read_bytes(), f


def test_malformed_rows_are_named_by_line_and_refused(train_rows, tok, tmp_path):
    broken = dict(train_rows[1])
    del broken["statement"]
    inp = write(tmp_path / "in.jsonl", [train_rows[0], broken, train_rows[2], train_rows[2]], {2: "{not json"})
    with pytest.raises(DataError) as ei:
        prep(inp, tmp_path / "out", tok, validate=False)
    text = str(ei.value)
    assert "line 2 (id " in text and "[malformed] missing key(s) ['statement']" in text
    assert "line 3: [malformed] not valid JSON" in text
    assert "line 5 (id " in text and "[duplicate_id] same id as line 4" in text
    assert not (tmp_path / "out" / "rl_train.parquet").exists()
    assert json.loads((tmp_path / "out" / "rl_report.json").read_text())["ok"] is False


def test_decontamination_drops_eval_problems(train_rows, tok, tmp_path):
    from coderl.data.build import BuildContext, build_dataset
    from coderl.data.registry import load_eval_problems
    from coderl.paths import repo_root

    cfg = load_eval_config()
    man = repo_root() / "data" / "manifests"
    build_dataset(
        "humaneval",
        cfg.datasets["humaneval"],
        BuildContext(raw_dir=tmp_path / "raw", manifests_dir=man, cache_dir=tmp_path / "cache"),
    )
    he = load_eval_problems("humaneval", tmp_path / "raw", man)
    leak = dict(train_rows[3], id="leak", statement="Solve this:\n" + he[10].prompt)
    inp = write(tmp_path / "in.jsonl", train_rows + [leak])
    kw = dict(decontaminate=True, validate=False, raw_dir=tmp_path / "raw", manifests_dir=man)
    with pytest.raises(DataError, match="no eval set could be checked"):
        prep(inp, tmp_path / "none", tok, eval_sets=["codecontests_valid"], **kw)
    rep = prep(inp, tmp_path / "out", tok, eval_sets=["humaneval", "codecontests_valid"], **kw)
    assert rep.dropped == {"leak": "contaminated: 100% of humaneval problem 'HumanEval/10'"}
    assert rep.contamination["codecontests_valid"]["checked"] is False  # reported, not silently skipped


def test_cli_refuses_with_exit_code(train_rows, tmp_path, capsys):
    inp = write(tmp_path / "in.jsonl", train_rows[:3], {0: "[1, 2]"})
    rc = cli.main(
        [
            "prepare-rl",
            "--input",
            str(inp),
            "--out-dir",
            str(tmp_path / "o"),
            "--val-size",
            "1",
            "--no-decontaminate",
            "--no-validate",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 1 and "line 1: [malformed] expected a JSON object, got list" in out and "REFUSED" in out


def test_verl_rlhf_dataset_reads_the_output(prepared, tiny_model_dir):
    """verl 0.9.1's own RLHFDataset tokenizes the prompt with the chat template and keeps the reward fields."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.rl_dataset import RLHFDataset

    _, d = prepared
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    cfg = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 2048,
            "filter_overlong_prompts": True,
            "truncation": "error",
            "return_raw_chat": True,
        }
    )
    ds = RLHFDataset(str(d / "out" / "rl_train.parquet"), tok, cfg)
    assert len(ds) == pq.ParquetFile(d / "out" / "rl_train.parquet").metadata.num_rows > 0
    item = ds[0]
    assert item["data_source"] == "coderl"
    assert json.loads(item["reward_model"]["ground_truth"])["kind"] == "stdio"
    assert item["raw_prompt"][-1]["role"] == "user"


def test_codecontests_train_snapshot_through_make_data_row_sources(tmp_path, tok):
    """--hf with a local snapshot in deepmind/code_contests' exact schema (the hub path reads the same rows)."""
    from coderl.rl.sources import codecontests_train
    from fixtures.codecontests_parquet import row, write_split

    tests = [(f"{a} {b}\n", f"{a + b}\n") for a, b in ((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (0, 0))]
    write_split(
        tmp_path / "snap",
        "train",
        [
            row("1_A. Sum", public=tests[:1], private=tests[1:4], generated=tests[4:]),
            row("2_B. Few", public=tests[:2]),
            row("3_C. File io", public=tests, input_file="input.txt"),
            row("4_D. Sum again", public=tests, generated=tests),
        ],
    )
    items = list(codecontests_train(tmp_path / "snap", tmp_path / "cache"))
    assert [pos for pos, _, _ in items] == [1, 2, 3, 4]
    rep = prepare_rl(
        items, tmp_path / "out", input_name="snap", input_sha256="", val_size=1, tokenizer=tok, decontaminate=False
    )
    assert rep.dropped == {
        "2_B. Few": "too_few_tests: 2 test(s) < 5",
        "3_C. File io": "file_io: reads/writes files instead of stdin/stdout",
    }
    assert rep.validation == {"checked": 2, "failed": 0, "sandbox": "local"}  # both references pass in the sandbox
    assert rep.counts["train"] + rep.counts["val"] == 2
