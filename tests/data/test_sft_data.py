"""prepare-sft: checks on bad input, deterministic split, verl-readable parquet, decontamination, --validate."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from coderl import cli
from coderl.config import load_eval_config
from coderl.data.build import BuildContext, build_dataset
from coderl.data.sft import prepare_sft
from coderl.errors import DataError
from coderl.paths import repo_root

SOLUTIONS = [
    ("Write a function add(a, b) that returns the sum of a and b.", "def add(a, b):\n    return a + b"),
    ("Write a function that reverses a string s.", "def rev(s):\n    return s[::-1]"),
    (
        "Write a program that reads n and prints the n-th triangular number.",
        "n = int(input())\nprint(n * (n + 1) // 2)",
    ),
    ("Write a function is_even(n) that tells if n is even.", "def is_even(n):\n    return n % 2 == 0"),
    ("Write a function that returns the largest element of a list xs.", "def biggest(xs):\n    return max(xs)"),
    ("Count the vowels in the string given on standard input.", "s = input()\nprint(sum(c in 'aeiou' for c in s))"),
]


@pytest.fixture(scope="module")
def tok():
    from coderl.models.tokenizer import load_qwen_tokenizer

    return load_qwen_tokenizer()


def good_rows(n: int = 24) -> list[dict]:
    rows = []
    for k in range(n):
        q, a = SOLUTIONS[k % len(SOLUTIONS)]
        q = f"Task {k} ({'alpha beta gamma delta'.split()[k % 4]} variant {k * 7919 % 1009}): {q} Use only the standard library {k}."
        if k % 3 == 0:
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": q},
                        {"role": "assistant", "content": f"```python\n{a}\n```"},
                    ]
                }
            )
        else:
            rows.append({"id": f"row-{k}", "prompt": q, "response": f"```python\n{a}\n```"})
    return rows


def write_jsonl(path: Path, rows: list, raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r) for r in rows]
    for pos, text in (raw_lines or {}).items():
        lines.insert(pos, text)
    path.write_text("\n".join(lines) + "\n")
    return path


def prep(tmp_path, inp, tok, **kw):
    kw.setdefault("decontaminate", False)
    return prepare_sft(inp, tmp_path / kw.pop("out", "out"), tokenizer=tok, **kw)


def refused(tmp_path, inp, tok, **kw):
    with pytest.raises(DataError) as ei:
        prep(tmp_path, inp, tok, **kw)
    out = tmp_path / kw.get("out", "out")
    assert not (out / "sft_train.parquet").exists() and not (out / "sft_val.parquet").exists()
    assert json.loads((out / "sft_report.json").read_text())["ok"] is False
    return ei.value.report


def test_split_is_deterministic_and_verl_shaped(tmp_path, tok):
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows())
    rep = prep(tmp_path, inp, tok, val_size=5, seed=3)
    assert rep.ok and rep.counts["train"] == 19 and rep.counts["val"] == 5
    out = tmp_path / "out"
    train = pq.read_table(out / "sft_train.parquet").to_pylist()
    assert train[0]["messages"][0] == {"role": "system", "content": "You are terse."}
    assert all(r["messages"][-1]["role"] == "assistant" for r in train)
    mapping = json.loads((out / "split_mapping.json").read_text())
    assert sum(v == "val" for v in mapping["splits"].values()) == 5 and len(mapping["splits"]) == 24
    assert mapping["seed"] == 3 and len(mapping["input_sha256"]) == 64
    assert any(i.startswith("sha256:") for i in mapping["splits"]) and "row-1" in mapping["splits"]
    # same input + seed: byte-identical files; another seed: another split
    prep(tmp_path, inp, tok, val_size=5, seed=3, out="again")
    for f in ("sft_train.parquet", "sft_val.parquet", "split_mapping.json"):
        assert (out / f).read_bytes() == (tmp_path / "again" / f).read_bytes(), f
    prep(tmp_path, inp, tok, val_size=5, seed=4, out="other")
    assert json.loads((tmp_path / "other" / "split_mapping.json").read_text())["splits"] != mapping["splits"]


def test_malformed_json_names_the_line(tmp_path, tok):
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(6), {2: '{"prompt": "x", "response": '})
    rep = refused(tmp_path, inp, tok, val_size=1)
    bad = [i for i in rep.issues if i.check == "malformed_json"]
    assert len(bad) == 1 and bad[0].line == 3


@pytest.mark.parametrize(
    "row, needle",
    [
        ({"prompt": "Write code."}, "missing field 'response'"),
        ({"prompt": "  ", "response": "x = 1"}, "field 'prompt' is empty"),
        ({"text": "hello"}, "needs 'messages', or 'prompt' and 'response'"),
        ({"messages": [{"role": "bot", "content": "hi"}, {"role": "assistant", "content": "x"}]}, "role is 'bot'"),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "system", "content": "b"},
                    {"role": "assistant", "content": "c"},
                ]
            },
            "only as the first message",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ]
            },
            "last message must be the assistant",
        ),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]},
            "empty or non-string content",
        ),
        ({"prompt": "Write code.", "response": "x = 1", "tests": [{"input": "1"}]}, "'tests' must be"),
    ],
)
def test_bad_rows_are_reported_with_their_line(tmp_path, tok, row, needle):
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(6) + [row])
    rep = refused(tmp_path, inp, tok, val_size=1)
    bad = [i for i in rep.issues if i.check == "bad_row"]
    assert len(bad) == 1 and bad[0].line == 7 and needle in bad[0].message, bad


def test_duplicate_ids_and_duplicate_content(tmp_path, tok):
    rows = good_rows(8)
    exact = dict(rows[1])
    exact["id"] = "copy-of-1"
    story = " ".join(f"step{i} of the careful explanation" for i in range(60))
    rows.append({"id": "long-expl", "prompt": "Explain the algorithm.", "response": story})
    near = {"id": "near-2", "prompt": "Explain the algorithm!", "response": story.replace("step30 of", "step30 in")}
    dup_id = {"id": "row-4", "prompt": "Something else entirely, unlike anything here.", "response": "pass"}
    inp = write_jsonl(tmp_path / "in.jsonl", rows + [exact, near, dup_id])
    rep = refused(tmp_path, inp, tok, val_size=1)
    checks = {(i.check, i.id) for i in rep.issues}
    assert {("exact_duplicate", "copy-of-1"), ("near_duplicate", "near-2"), ("duplicate_id", "row-4")} <= checks
    # duplicate ids are never dropped silently; duplicates of content can be, on request
    inp = write_jsonl(tmp_path / "in2.jsonl", rows + [exact, near])
    rep = prep(tmp_path, inp, tok, val_size=1, drop_duplicates=True)
    assert rep.dropped == {"copy-of-1": "exact_duplicate", "near-2": "near_duplicate"}
    assert rep.counts["train"] + rep.counts["val"] == 9


def test_too_long_in_the_qwen_tokenizer(tmp_path, tok):
    rows = good_rows(6) + [{"id": "long", "prompt": "Explain. " + "word " * 300, "response": "ok " * 10}]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    rep = refused(tmp_path, inp, tok, val_size=1, max_length=200)
    long = [i for i in rep.issues if i.check == "too_long"]
    assert [i.id for i in long] == ["long"] and "> max_length 200" in long[0].message
    rep = prep(tmp_path, inp, tok, val_size=1, max_length=200, drop_too_long=True)
    assert rep.dropped == {"long": "too_long"} and rep.counts["train"] == 5


def test_val_size_must_leave_training_rows(tmp_path, tok):
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(4))
    rep = refused(tmp_path, inp, tok, val_size=4)
    assert any("--val-size 4" in f for f in rep.fatal)


def test_decontamination_against_eval_sets(tmp_path, tok):
    cfg = load_eval_config()
    man = repo_root() / "data" / "manifests"
    ctx = BuildContext(raw_dir=tmp_path / "raw", manifests_dir=man, cache_dir=tmp_path / "cache")
    build_dataset("humaneval", cfg.datasets["humaneval"], ctx)
    from coderl.data.registry import load_eval_problems

    he = load_eval_problems("humaneval", tmp_path / "raw", man)
    leak = {
        "id": "leak",
        "prompt": "Please solve:\n" + he[10].prompt,
        "response": "```python\n" + he[10].reference_code + "```",
    }
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(6) + [leak])
    kw = dict(
        val_size=1,
        decontaminate=True,
        eval_sets=["humaneval", "codecontests_valid"],
        raw_dir=tmp_path / "raw",
        manifests_dir=man,
    )
    rep = refused(tmp_path, inp, tok, **kw)
    assert [h["row_id"] for h in rep.contamination["humaneval"]["rows"]] == ["leak"]
    assert rep.contamination["humaneval"]["rows"][0]["problem_id"] == "HumanEval/10"
    assert rep.contamination["codecontests_valid"]["checked"] is False  # reported, not silently skipped
    rep = prep(tmp_path, inp, tok, drop_contaminated=True, **kw)
    assert rep.dropped == {"leak": "contaminated:humaneval:HumanEval/10"} and rep.counts["train"] == 5


def test_cli_exit_code_and_report(tmp_path, capsys):
    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(5), {0: "not json"})
    rc = cli.main(
        ["prepare-sft", "--input", str(inp), "--out-dir", str(tmp_path / "o"), "--val-size", "1", "--no-decontaminate"]
    )
    out = capsys.readouterr().out
    assert rc == 1 and "line 1: [malformed_json]" in out and "REFUSED" in out


def test_validate_drops_rows_whose_response_fails_its_tests(tmp_path, tok):
    rows = good_rows(6) + [
        {
            "id": "fn-ok",
            "prompt": "Write mul(a, b).",
            "response": "```python\ndef mul(a, b):\n    return a * b\n```",
            "test_list": ["assert mul(2, 3) == 6", "assert mul(0, 5) == 0"],
        },
        {
            "id": "fn-bad",
            "prompt": "Write sub(a, b).",
            "response": "```python\ndef sub(a, b):\n    return a + b\n```",
            "test_list": ["assert sub(5, 3) == 2"],
        },
        {
            "id": "io-ok",
            "prompt": "Read two ints, print their sum.",
            "response": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            "tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10\n"}],
        },
        {
            "id": "io-bad",
            "prompt": "Read two ints, print their product.",
            "response": "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
            "tests": [{"input": "2 2\n", "output": "4\n"}, {"input": "3 3\n", "output": "9\n"}],
        },
    ]
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    rep = prep(tmp_path, inp, tok, val_size=1, validate=True)
    assert set(rep.dropped) == {"fn-bad", "io-bad"}
    assert rep.dropped["fn-bad"].startswith("failed_validation: ") and rep.validation["rows_with_tests"] == 4
    assert rep.counts["train"] + rep.counts["val"] == 8


@pytest.mark.slow
def test_verl_multiturn_dataset_reads_the_output(tmp_path, tok, tiny_model_dir):
    """verl 0.9.1's own MultiTurnSFTDataset tokenizes our parquet with the Qwen2.5 template."""
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    inp = write_jsonl(tmp_path / "in.jsonl", good_rows(6))
    prep(tmp_path, inp, tok, val_size=1)
    qtok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    cfg = OmegaConf.create(
        {"max_length": 512, "truncation": "error", "ignore_input_ids_mismatch": True, "messages_key": "messages"}
    )
    ds = MultiTurnSFTDataset(str(tmp_path / "out" / "sft_train.parquet"), qtok, cfg)
    assert len(ds) == 5
    item = ds[0]
    ids = item["input_ids"][item["attention_mask"].bool()] if "attention_mask" in item else item["input_ids"]
    text = qtok.decode(ids)
    assert "<|im_start|>assistant" in text and "```python" in text
    assert int(item["loss_mask"].sum()) > 0


def test_decontam_index_short_prompts_and_boilerplate():
    from coderl.data.decontam import EvalIndex
    from coderl.data.problem import Problem

    boiler = "The first line contains a single integer t the number of test cases in this input"
    probs = [
        Problem(
            id="mbpp/248",
            dataset="mbpp_reg",
            kind="functional",
            test_code="assert 1",
            prompt="Write a function to calculate the harmonic sum of n-1.",
        )
    ]
    probs += [
        Problem(
            id=f"cc{k}",
            dataset="codecontests_valid",
            kind="stdio",
            tests=[{"input": "", "output": ""}],
            prompt=f"{boiler}. Then problem {k} asks for quite specific thing number {k} with words w{k} x{k} y{k}.",
        )
        for k in range(3)
    ]
    idx = EvalIndex(probs, n=13)
    hit = idx.hits("r1", "Task: write a function to calculate the harmonic sum of n-1. Use recursion.", 0.5)
    assert [(h.problem_id, h.overlap) for h in hit] == [("mbpp/248", 1.0)]
    assert idx.hits("r2", "Write a function to calculate the harmonic mean of a list.", 0.5) == []
    # a shared statement preamble alone is boilerplate, not contamination
    assert idx.hits("r3", boiler + ". Print the answer.", 0.5) == []
    assert [h.problem_id for h in idx.hits("r4", probs[3].prompt, 0.5)] == ["cc2"]
