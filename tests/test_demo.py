"""The demo: its toy task (learnable, judged by real asserts, held-out truly unseen), its configs, and
`coderl demo` end to end (slow: verl on CPU, hf generation, the embedded sandbox, the report)."""

from __future__ import annotations

import json

import pytest

from coderl.config import load_eval_config
from coderl.demo_task.problems import DATASET, ToyTaskSpec, make_toy_problems
from coderl.errors import ConfigError
from coderl.paths import configs_dir

DEMO_EVAL = configs_dir() / "demo" / "eval.yaml"


@pytest.fixture(scope="module")
def demo_cfg():
    return load_eval_config(DEMO_EVAL)


@pytest.fixture(scope="module")
def toy():
    return make_toy_problems(ToyTaskSpec(n_train=300, n_heldout=20))


def test_toy_problems_are_deterministic_and_distinct(toy):
    train, held = toy
    again_train, again_held = make_toy_problems(ToyTaskSpec(n_train=300, n_heldout=20))
    assert [p.sha256 for p in train + held] == [p.sha256 for p in again_train + again_held]
    assert len({p.prompt for p in train}) == len(train)
    assert all(p.dataset == DATASET for p in held)


def test_heldout_names_never_occur_in_training(toy):
    train, held = toy
    train_names = {p.meta["name"] for p in train}
    assert not {p.meta["name"] for p in held} & train_names
    # every word of a held-out name is seen in training (a composition of known parts, not new words)
    train_words = {w for n in train_names for w in n.split("_")}
    assert all(set(p.meta["name"].split("_")) <= train_words for p in held)


def test_too_many_problems_for_the_spec_is_a_config_error():
    with pytest.raises(ConfigError, match="distinct"):
        make_toy_problems(ToyTaskSpec(n_train=100_000))


def test_reference_answers_pass_and_wrong_answers_fail_in_the_sandbox(toy, demo_cfg):
    from coderl.demo_task.problems import reference_answer
    from coderl.generation.extract import extract_for_problem
    from coderl.sandbox import make_executor
    from coderl.sandbox.judge import judge_problem

    executor = make_executor("local", demo_cfg)
    for p in toy[1][:3]:
        m = p.meta
        code = extract_for_problem(reference_answer(m["name"], m["op"], m["constant"]), p).code
        assert judge_problem(p, code, executor).verdict == "accepted"
        wrong = extract_for_problem(reference_answer(m["name"], m["op"], m["constant"] + 1), p).code
        assert judge_problem(p, wrong, executor).verdict != "accepted"


def test_demo_profile_is_fingerprinted_apart_from_real_runs(demo_cfg):
    assert demo_cfg.profile == "demo"
    assert demo_cfg.fingerprint() != load_eval_config().fingerprint()
    assert set(demo_cfg.tier_datasets(1)) == {"toy_heldout", "humaneval_slice"}


def test_sft_rows_are_the_eval_messages_plus_the_answer(toy, demo_cfg):
    from coderl.demo_task.datasets import sft_rows
    from coderl.generation.prompts import build_messages

    p = toy[0][0]
    row = sft_rows([p], demo_cfg)[0]
    assert row["messages"][:-1] == build_messages(p, demo_cfg)
    assert row["messages"][-1]["role"] == "assistant" and f"def {p.meta['name']}(x):" in row["messages"][-1]["content"]
    assert row["test_list"] and all(t.startswith(f"assert {p.meta['name']}(") for t in row["test_list"])


def test_demo_eval_datasets_load_through_the_registry(tmp_path, demo_cfg):
    from coderl.data.registry import load_eval_problems
    from coderl.demo_task.datasets import write_demo_inputs

    write_demo_inputs(tmp_path, demo_cfg, ToyTaskSpec(n_train=50, n_heldout=5))
    held = load_eval_problems(DATASET, tmp_path / "raw", tmp_path / "manifests")
    he = load_eval_problems("humaneval_slice", tmp_path / "raw", tmp_path / "manifests")
    assert len(held) == 5 and len(he) == demo_cfg.datasets["humaneval_slice"]["size"]
    assert sum(1 for _ in open(tmp_path / "sft_input.jsonl")) == 50


def test_demo_refuses_to_delete_a_folder_it_did_not_create(tmp_path):
    from coderl.demo import MARKER, _clean

    precious = tmp_path / "outputs"
    precious.mkdir()
    (precious / "results.json").write_text("{}")
    with pytest.raises(ConfigError, match="not created by coderl demo"):
        _clean(precious)
    assert (precious / "results.json").is_file()
    demo_dir = tmp_path / "demo"
    _clean(demo_dir)
    (demo_dir / "old.txt").write_text("x")
    _clean(demo_dir)
    assert not (demo_dir / "old.txt").exists() and (demo_dir / MARKER).is_file()


@pytest.mark.slow
def test_demo_end_to_end_raises_heldout_accepted(tmp_path):
    """The whole demo as `make demo` runs it (default recipe), into temporary folders."""
    from coderl import demo

    rc = demo.run_demo(
        out_root=str(tmp_path / "outputs"),
        ckpt_root=str(tmp_path / "ckpt"),
        eval_config=str(DEMO_EVAL),
        recipe=str(configs_dir() / "demo" / "sft.yaml"),
    )
    assert rc == 0
    summary = json.loads((tmp_path / "outputs" / "demo_summary.json").read_text())
    scores = {int(s): v for s, v in summary["scores"].items()}
    steps = sorted(scores)
    assert steps[0] == 0 and len(steps) >= 3
    first, last = scores[steps[0]][DATASET]["accepted_at_1"], scores[steps[-1]][DATASET]["accepted_at_1"]
    assert first <= 0.1 and last >= 0.5, f"held-out accepted@1 did not rise: {first} -> {last}"
    # the rise starts before the last checkpoint (measured at step 75 of 90: accepted@1 15%, exec_success 85%,
    # the name copied but not yet the constant); exec_success too, so that a transition a few steps later on
    # another CPU still passes
    between = [(scores[s][DATASET]["accepted_at_1"], scores[s][DATASET]["exec_success_rate"]) for s in steps[1:-1]]
    assert any(a > first or e >= 0.25 for a, e in between), (
        f"held-out scores rose only at the last checkpoint: {between}"
    )
    report = tmp_path / "outputs" / "report" / "report.md"
    assert report.is_file() and "demo_sft" in report.read_text()
    assert list((tmp_path / "outputs" / "report").glob("*.png"))
    history = [json.loads(line) for line in open(tmp_path / "outputs" / "demo_sft" / "eval_history.jsonl")]
    assert {r["step"] for r in history} == set(steps)


def test_prompt_forms_state_the_same_problem():
    from coderl.demo_task.problems import PROMPT_FORMS

    problems = {f: make_toy_problems(ToyTaskSpec(n_train=20, n_heldout=5, prompt_form=f))[1] for f in PROMPT_FORMS}
    for held in problems.values():
        assert [p.meta for p in held] == [p.meta for p in problems["words"]]  # same draws, only the wording differs
    m = problems["words"][0].meta
    sym = {"plus": "+", "minus": "-", "times": "*"}[m["op"]]
    assert (
        problems["words"][0].prompt
        == f"Write a Python function `{m['name']}(x)` that returns x {m['op']} {m['constant']}."
    )
    assert (
        problems["plain"][0].prompt
        == f"Write a Python function {m['name']}(x) that returns x {m['op']} {m['constant']}."
    )
    assert problems["plain_symbols"][0].prompt.endswith(f"{m['name']}(x) that returns x {sym} {m['constant']}.")
    with pytest.raises(ConfigError, match="prompt_form"):
        make_toy_problems(ToyTaskSpec(prompt_form="poetry"))
